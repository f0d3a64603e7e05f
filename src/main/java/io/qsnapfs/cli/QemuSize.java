package io.qsnapfs.cli;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Byte counts written the way QEMU's tools write them ("0 B", "1.5 KiB", "0.977 KiB"): binary
 * units, three significant digits, and a unit switch as soon as the number would reach 1000, so
 * the text never needs more than three digits before the point.
 */
final class QemuSize {
    private static final String[] UNITS = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    private static final MathContext THREE_DIGITS = new MathContext(3, RoundingMode.HALF_EVEN);

    private QemuSize() {
    }

    /** {@code bytes} (read as unsigned) with a binary unit, e.g. "64 MiB". */
    static String of(long bytes) {
        double value = unsignedToDouble(bytes);
        // The exponent of value * 1024/1000 picks the unit: a value of 1000 or more of a unit
        // is shown in the next one.
        double scaled = value / (1000.0 / 1024.0);
        int exponent = scaled == 0 ? 0 : Math.getExponent(scaled) + 1;
        int unit = (exponent - 1) / 10;
        long divisor = 1L << (unit * 10);
        return threeSignificant(value / divisor) + " " + UNITS[unit] + "B";
    }

    private static double unsignedToDouble(long v) {
        if (v >= 0) {
            return v;
        }
        return ((v >>> 1) | (v & 1)) * 2.0;
    }

    /**
     * A non-negative number as C's {@code printf("%.3g")} writes it: rounded to three significant
     * digits, trailing zeros dropped, in exponent form when the exponent is below -4 or above 2.
     */
    static String threeSignificant(double v) {
        if (v == 0) {
            return "0";
        }
        BigDecimal rounded = new BigDecimal(v).round(THREE_DIGITS);
        int exponent = rounded.precision() - rounded.scale() - 1;
        if (exponent < -4 || exponent >= 3) {
            String mantissa = rounded.movePointLeft(exponent).stripTrailingZeros().toPlainString();
            return mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        return rounded.setScale(Math.max(0, 2 - exponent), RoundingMode.UNNECESSARY).stripTrailingZeros()
                .toPlainString();
    }
}
