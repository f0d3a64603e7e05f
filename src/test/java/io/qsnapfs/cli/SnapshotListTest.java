package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.SnapshotEntryPoker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qsnapfs snapshot list} against {@code qemu-img snapshot -l}, byte for byte. */
class SnapshotListTest {
    private static final String[] ZONES = {"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"};

    @TempDir
    Path dir;

    /** Our listing of {@code image} in time zone {@code tz}, which must succeed. */
    static byte[] ours(Path image, String tz) {
        TimeZone saved = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone(tz));
        try {
            CliRun r = CliRun.of("snapshot", "list", image.toString());
            assertEquals(0, r.status(), r.toString());
            assertEquals("", r.err());
            return r.out();
        } finally {
            TimeZone.setDefault(saved);
        }
    }

    static void assertSameAsQemu(Path image) {
        for (String tz : ZONES) {
            byte[] expected = Qemu.snapshotList(image, tz);
            byte[] actual = ours(image, tz);
            assertArrayEquals(expected, actual, () -> "TZ=" + tz + "\nqemu-img:\n"
                    + new String(expected, StandardCharsets.UTF_8) + "qsnapfs:\n"
                    + new String(actual, StandardCharsets.UTF_8));
        }
    }

    @Test
    void oddNamesListLikeQemu() {
        Path img = Qemu.create(dir.resolve("names.qcow2"), "16M", "");
        Qemu.io(img, "write -P 0x11 0 1M");
        for (String name : new String[] {"plain", "with  two spaces", "h\u00e9llo w\u00f6rld \u2713", "x".repeat(300),
            "dup", "dup", "1", "a-name-longer-than-sixteen-bytes", "\u65e5\u672c\u8a9e\u306e\u540d\u524d"}) {
            Qemu.snapshot(img, name);
        }
        assertSameAsQemu(img);
    }

    @Test
    void namesWithNulAndInvalidUtf8ListAsRawBytes() {
        Path img = Qemu.create(dir.resolve("bytes.qcow2"), "4M", "");
        Qemu.snapshot(img, "AAAAAAAA");
        Qemu.snapshot(img, "BBBBBBBBBB");
        Qemu.snapshot(img, "CCCC");
        SnapshotEntryPoker.of(img)
                .name(0, new byte[] {'a', 'b', 0, 'c', 'd', 'e', 'f', 'g'})
                .name(1, new byte[] {(byte) 0xff, (byte) 0xfe, 'x', (byte) 0xc3, 'y', (byte) 0x80, 'z', 'z', 'z', 'z'})
                .name(2, new byte[] {0, 'n', 'u', 'l'});
        assertSameAsQemu(img);
    }

    @Test
    void vmStateSizesClocksDatesAndIcountsFormatLikeQemu() {
        long[] sizes = {0, 1, 999, 1000, 1023, 1024, 1536, 10_000, 102_400, 1_023_487, 1_023_488, 1_048_575,
            1_048_576, 123_456_789, 1_000_000_000L, 1L << 40, 999_999_999_999L, 5L << 50, Long.MAX_VALUE, -1L};
        long[] clocks = {0, 1_500_000_000L, 3_599_999_999_999L, 86_400_000_000_000L, 123_456_789_012_345L,
            (1L << 62) + 12345, Long.MAX_VALUE, -1L, Long.MIN_VALUE, 999_999L};
        long[] dates = {0, 1, 951_782_400L, 1_700_000_000L, 2_147_483_647L, 2_147_483_648L, 4_294_967_295L};
        long[] icounts = {-1, 0, 1, 12_345_678_901L, Long.MAX_VALUE, Long.MIN_VALUE, -2};
        Path img = Qemu.create(dir.resolve("values.qcow2"), "4M", "");
        int n = sizes.length;
        for (int i = 0; i < n; i++) {
            Qemu.snapshot(img, "s" + i);
        }
        SnapshotEntryPoker poker = SnapshotEntryPoker.of(img);
        for (int i = 0; i < n; i++) {
            poker.vmStateSize(i, sizes[i])
                    .vmClockNsec(i, clocks[i % clocks.length])
                    .dateSec(i, dates[i % dates.length])
                    .icount(i, icounts[i % icounts.length]);
        }
        assertSameAsQemu(img);
    }

    @Test
    void imageWithoutSnapshotsPrintsNothingLikeQemu() {
        Path img = Qemu.create(dir.resolve("none.qcow2"), "4M", "");
        assertEquals(0, Qemu.snapshotList(img, "UTC").length, "qemu-img prints nothing here");
        assertSameAsQemu(img);
    }

    @Test
    void version2ImagesListLikeQemu() {
        Path img = Qemu.create(dir.resolve("v2.qcow2"), "8M", "compat=0.10");
        Qemu.io(img, "write -P 0x22 0 2M");
        Qemu.snapshot(img, "old-style");
        Qemu.snapshot(img, "second one");
        assertSameAsQemu(img);
    }

    @Test
    void extendedL2AndZstdImagesListLikeQemu() {
        Path img = Qemu.create(dir.resolve("ext.qcow2"), "8M", "extended_l2=on,compression_type=zstd,cluster_size=128k");
        Qemu.snapshot(img, "e1");
        Qemu.io(img, "write -c -P 0x33 0 128k");
        Qemu.snapshot(img, "e2");
        assertSameAsQemu(img);
    }
}
