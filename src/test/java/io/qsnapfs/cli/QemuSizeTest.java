package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Sizes as QEMU prints them; expectations from C's printf("%0.3g %sB"). */
class QemuSizeTest {
    @ParameterizedTest
    @CsvSource({
        "0, 0 B",
        "1, 1 B",
        "999, 999 B",
        "1000, 0.977 KiB",
        "1024, 1 KiB",
        "1536, 1.5 KiB",
        "10240, 10 KiB",
        "1023487, 999 KiB",
        "1023488, 1e+03 KiB",
        "1024000, 0.977 MiB",
        "67108864, 64 MiB",
        "10737418240, 10 GiB",
        "9223372036854775807, 8 EiB",
        "-1, 16 EiB",
    })
    void formatsLikeQemu(long bytes, String expected) {
        assertEquals(expected, QemuSize.of(bytes));
    }

    @ParameterizedTest
    @CsvSource({
        "999.5, 1e+03",
        "999.4, 999",
        "0.9765625, 0.977",
        "0.00001234, 1.23e-05",
        "0.0001234, 0.000123",
        "1.0, 1",
        "12.5, 12.5",
        "0.125, 0.125",
        "100.0, 100",
    })
    void threeSignificantDigitsLikeC(double value, String expected) {
        assertEquals(expected, QemuSize.threeSignificant(value));
    }
}
