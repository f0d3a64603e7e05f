package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import io.qsnapfs.testing.SnapshotEntryPoker;
import io.qsnapfs.testing.TableWalk;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs snapshot list} against {@code qemu-img snapshot -l}, byte for byte; its EXCLUSIVE
 * column and JSON against {@code qemu-img info} and what {@code qemu-img snapshot -d} frees.
 */
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

    /** Our listing with {@code args} added (UTC), which must succeed. */
    private static CliRun list(Path image, String... args) {
        TimeZone saved = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone("UTC"));
        try {
            List<String> all = new ArrayList<>(List.of("snapshot", "list"));
            all.addAll(List.of(args));
            all.add(image.toString());
            CliRun r = CliRun.of(all.toArray(new String[0]));
            assertEquals(0, r.status(), r.toString());
            assertEquals("", r.err());
            return r;
        } finally {
            TimeZone.setDefault(saved);
        }
    }

    private Path imageWithSavevmAndDiskSnapshots() {
        Path img = Qemu.create(dir.resolve("facts.qcow2"), "32M", "");
        Qemu.io(img, "write -P 1 0 3M");
        QemuVm.savevm(img, "vm");
        Qemu.io(img, "write -P 2 1M 1M");
        Qemu.snapshot(img, "disk");
        Qemu.io(img, "write -P 3 0 2M", "discard 2M 1M");
        SnapshotEntryPoker.of(img).icount(1, 123_456);
        return img;
    }

    @Test
    void exclusiveAddsAColumnAfterQemusWithTheBytesDeletionFrees() throws Exception {
        Path img = imageWithSavevmAndDiskSnapshots();
        String qemu = new String(Qemu.snapshotList(img, "UTC"), StandardCharsets.UTF_8);
        String ours = list(img, "--exclusive").outText();
        JsonNode json = new ObjectMapper().readTree(list(img, "--output", "json").out());
        String[] qemuLines = qemu.split("\n");
        String[] lines = ours.split("\n");
        assertEquals(qemuLines.length, lines.length, ours);
        assertEquals(qemuLines[0], lines[0]);
        assertEquals(qemuLines[1] + " EXCLUSIVE", lines[1]);
        for (int i = 0; i < 2; i++) {
            long bytes = json.get("snapshots").get(i).get("exclusive_bytes").asLong();
            Oracle.assertDeletionFrees(img, json.get("snapshots").get(i).get("name").asText(), bytes, dir);
            String column = String.format("%10s", QemuSize.of(bytes));
            assertEquals(qemuLines[i + 2] + column, lines[i + 2]);
        }
    }

    @Test
    void jsonHasEveryFieldQemuShowsAndMore() throws Exception {
        Path img = imageWithSavevmAndDiskSnapshots();
        JsonNode json = new ObjectMapper().readTree(list(img, "--output", "json").out());
        assertEquals(List.of("image", "cluster_size", "snapshots"), names(json));
        assertEquals("facts.qcow2", json.get("image").asText());
        assertEquals(65536, json.get("cluster_size").asLong());
        List<JsonNode> qemu = Qemu.snapshotInfo(img);
        assertEquals(qemu.size(), json.get("snapshots").size());
        TableWalk walk = TableWalk.of(img);
        for (int i = 0; i < qemu.size(); i++) {
            JsonNode q = qemu.get(i);
            JsonNode s = json.get("snapshots").get(i);
            assertEquals(List.of("id", "name", "vm_state_size", "disk_size", "disk_size_recorded", "date", "date_sec",
                    "date_nsec", "vm_clock_nsec", "icount", "l1_table_offset", "l1_size", "extra_data_size",
                    "exclusive_bytes"), names(s));
            assertEquals(q.get("id").asText(), s.get("id").asText());
            assertEquals(q.get("name").asText(), s.get("name").asText());
            assertEquals(q.get("vm-state-size").asLong(), s.get("vm_state_size").asLong());
            assertEquals(q.get("date-sec").asLong(), s.get("date_sec").asLong());
            assertEquals(q.get("date-nsec").asLong(), s.get("date_nsec").asLong());
            assertEquals(q.get("vm-clock-sec").asLong() * 1_000_000_000L + q.get("vm-clock-nsec").asLong(),
                    s.get("vm_clock_nsec").asLong());
            assertEquals(q.has("icount") ? q.get("icount").asText() : "null", s.get("icount").asText());
            assertEquals(walk.snapshotEntry(i).diskSize(), s.get("disk_size").asLong());
            assertTrue(s.get("exclusive_bytes").asLong() > 0, s.toString());
        }
        assertTrue(json.get("snapshots").get(0).get("vm_state_size").asLong() > 100_000, "savevm's VM state");
        assertTrue(json.get("snapshots").get(0).get("vm_clock_nsec").asLong() > 0, "the VM ran");
        assertEquals(123_456, json.get("snapshots").get(1).get("icount").asLong());
        assertTrue(json.get("snapshots").get(0).get("icount").isNull(), "savevm records no icount");
    }

    private static List<String> names(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void withoutSnapshotsExclusivePrintsNothingAndJsonAnEmptyList() throws Exception {
        Path img = Qemu.create(dir.resolve("none.qcow2"), "4M", "");
        assertEquals(0, list(img, "--exclusive").out().length);
        JsonNode json = new ObjectMapper().readTree(list(img, "--output", "json").out());
        assertEquals(0, json.get("snapshots").size());
    }

    @Test
    void corruptTablesFailTheExclusiveListingNamingTheSnapshot() {
        Path img = Qemu.create(dir.resolve("bad.qcow2"), "4M", "");
        Qemu.io(img, "write -P 1 0 64k");
        Qemu.snapshot(img, "broken");
        Qemu.io(img, "write -P 2 0 64k");
        long l2 = Poke.readU64(img, TableWalk.of(img).snapshotEntry(0).l1TableOffset()) & L2Entry.OFFSET_MASK;
        Poke.u64(img, l2, Poke.readU64(img, l2) + 512);
        assertSameAsQemu(img); // the default listing reads no tables
        for (String[] args : new String[][] {{"--exclusive"}, {"--output", "json"}}) {
            List<String> all = new ArrayList<>(List.of("snapshot", "list"));
            all.addAll(List.of(args));
            all.add(img.toString());
            CliRun r = CliRun.of(all.toArray(new String[0]));
            assertEquals(1, r.status(), r.toString());
            assertTrue(r.err().startsWith("qsnapfs: bad.qcow2: the tables of snapshot 1 ('broken') cannot be counted: "
                    + "ERROR offset="), r.err());
            assertTrue(r.err().endsWith("; run 'qsnapfs check'\n"), r.err());
        }
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
