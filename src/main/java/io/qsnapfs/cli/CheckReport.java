package io.qsnapfs.cli;

import io.qsnapfs.engine.check.CheckResult;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How {@code qsnapfs check} prints a {@link CheckResult}: byte for byte what {@code qemu-img check}
 * prints, as a report, as findings on standard error, or as JSON.
 */
public final class CheckReport {
    private CheckReport() {
    }

    /**
     * The report {@code qemu-img check} prints on standard output, byte for byte: the verdict,
     * the allocation line and the image end offset. Empty when the check did not complete
     * (qemu-img prints nothing then; see {@link CheckResult#failure()}).
     */
    public static String human(CheckResult r) {
        if (!r.complete()) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        if (r.corruptions() == 0 && r.leaks() == 0 && r.checkErrors() == 0) {
            out.append("No errors were found on the image.\n");
        } else {
            if (r.corruptions() != 0) {
                out.append('\n').append(r.corruptions()).append(" errors were found on the image.\n")
                        .append("Data may be corrupted, or further writes to the image may corrupt it.\n");
            }
            if (r.leaks() != 0) {
                out.append('\n').append(r.leaks()).append(" leaked clusters were found on the image.\n")
                        .append("This means waste of disk space, but no harm to data.\n");
            }
            if (r.checkErrors() != 0) {
                out.append('\n').append(r.checkErrors()).append(" internal errors have occurred during the check.\n");
            }
        }
        if (r.totalClusters() != 0 && r.allocatedClusters() != 0) {
            out.append(r.allocatedClusters()).append('/').append(r.totalClusters()).append(" = ")
                    .append(percent(r.allocatedClusters() * 100.0 / r.totalClusters())).append("% allocated, ")
                    .append(percent(r.fragmentedClusters() * 100.0 / r.allocatedClusters())).append("% fragmented, ")
                    .append(percent(r.compressedClusters() * 100.0 / r.allocatedClusters())).append("% compressed clusters\n");
        }
        if (r.imageEndOffset() != 0) {
            out.append("Image end offset: ").append(r.imageEndOffset()).append('\n');
        }
        return out.toString();
    }

    /** The findings, one per line, as qemu-img writes them to standard error. */
    public static String messages(CheckResult r) {
        StringBuilder out = new StringBuilder();
        for (String m : r.messages()) {
            out.append(m).append('\n');
        }
        if (r.messagesDropped() > 0) {
            out.append("(").append(r.messagesDropped()).append(" more findings not shown)\n");
        }
        return out.toString();
    }

    /**
     * C's {@code %0.2f}: the exact binary value rounded to two decimals, exact ties to even
     * (Java's own formatter rounds ties up and would print 3.13 where QEMU prints 3.12).
     */
    static String percent(double value) {
        return new BigDecimal(value).setScale(2, RoundingMode.HALF_EVEN).toPlainString();
    }

    /**
     * The fields of {@code qemu-img check --output=json}, in the order it prints them. Like
     * qemu-img, optional counts are left out when they are zero; check-errors is always there.
     */
    static Map<String, Object> jsonFields(CheckResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        putNonZero(m, "image-end-offset", r.imageEndOffset());
        putNonZero(m, "compressed-clusters", r.compressedClusters());
        putNonZero(m, "total-clusters", r.totalClusters());
        putNonZero(m, "corruptions", r.corruptions());
        m.put("check-errors", r.checkErrors());
        putNonZero(m, "leaks", r.leaks());
        putNonZero(m, "allocated-clusters", r.allocatedClusters());
        m.put("filename", r.filename());
        m.put("format", r.format());
        putNonZero(m, "fragmented-clusters", r.fragmentedClusters());
        return m;
    }

    private static void putNonZero(Map<String, Object> m, String key, long value) {
        if (value != 0) {
            m.put(key, value);
        }
    }

    /** {@link #jsonFields} printed the way qemu-img prints it (four-space indent, no final newline). */
    public static String json(CheckResult r) {
        StringBuilder out = new StringBuilder("{\n");
        var it = jsonFields(r).entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            out.append("    ").append(jsonString(e.getKey())).append(": ");
            out.append(e.getValue() instanceof String s ? jsonString(s) : e.getValue().toString());
            out.append(it.hasNext() ? ",\n" : "\n");
        }
        return out.append('}').toString();
    }

    /** A JSON string literal, escaping like QEMU: control and non-ASCII characters as \\uXXXX. */
    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        b.append(String.format("\\u%04X", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
