package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qsnapfs.testing.DiffOracle;
import io.qsnapfs.testing.DiffOracle.Change;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs diff IMAGE FROM [TO]} in both output forms on one image whose changes are known
 * exactly, judged against QEMU's reads of each snapshot; and its errors. The image, 64 KiB
 * clusters, no backing file:
 * <pre>
 * write 0x11 [0, 2M); snapshot s1 (4 MiB)
 * write 0x22 [1M, 1M+64K); zero write [0, 128K); snapshot s2 (4 MiB)
 * resize to 5 MiB; write 0x33 [4M+64K, 4M+68K); snapshot s3 (5 MiB)
 * write 0x44 [3M, 3M+64K)                            (the active layer)
 * </pre>
 */
class DiffCommandTest {
    private static final long K = 1024;
    private static final long M = K * K;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path img;

    @BeforeEach
    void makeImage() {
        img = Qemu.create(dir.resolve("web01.qcow2"), "4M", "cluster_size=65536");
        Qemu.io(img, "write -P 0x11 0 2M");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -P 0x22 1M 64K", "write -z 0 128K");
        Qemu.snapshot(img, "s2");
        Qemu.resize(img, "5M");
        Qemu.io(img, "write -P 0x33 " + (4 * M + 64 * K) + " 4K");
        Qemu.snapshot(img, "s3");
        Qemu.io(img, "write -P 0x44 3M 64K");
    }

    @Test
    void jsonBetweenTwoSnapshots() throws IOException {
        JsonNode n = json("s1", "s2");
        assertEquals(List.of("image", "from", "to", "extents", "changed_bytes", "zero_bytes", "extent_count"),
                names(n));
        assertEquals("web01.qcow2", n.get("image").asText());
        assertSide(n.get("from"), "1", "s1", 4 * M);
        assertSide(n.get("to"), "2", "s2", 4 * M);
        List<Change> extents = extents(n);
        assertEquals(List.of(new Change(0, 128 * K, true), new Change(M, 64 * K, false)), extents);
        assertEquals(192 * K, n.get("changed_bytes").asLong());
        assertEquals(128 * K, n.get("zero_bytes").asLong());
        assertEquals(2, n.get("extent_count").asInt());
        assertAgreesWithQemu("1", 4 * M, "2", 4 * M, extents);
    }

    /** TO older than FROM is fine: the same ranges, and zero describes TO (s1 has data there). */
    @Test
    void toOlderThanFrom() throws IOException {
        JsonNode n = json("s2", "s1");
        assertSide(n.get("from"), "2", "s2", 4 * M);
        assertSide(n.get("to"), "1", "s1", 4 * M);
        List<Change> extents = extents(n);
        assertEquals(List.of(new Change(0, 128 * K, false), new Change(M, 64 * K, false)), extents);
        assertEquals(0, n.get("zero_bytes").asLong());
        assertAgreesWithQemu("2", 4 * M, "1", 4 * M, extents);
        // IDs work as well as names.
        assertEquals(extents, extents(json("2", "1")));
    }

    /** Without TO: the active layer (id and name null); a grown disk is changed past the old end. */
    @Test
    void jsonToTheActiveLayer() throws IOException {
        JsonNode n = json("s2");
        assertSide(n.get("from"), "2", "s2", 4 * M);
        assertTrue(n.get("to").get("id").isNull(), n.toString());
        assertTrue(n.get("to").get("name").isNull(), n.toString());
        assertEquals(5 * M, n.get("to").get("disk_size").asLong());
        List<Change> extents = extents(n);
        assertEquals(List.of(new Change(3 * M, 64 * K, false), new Change(4 * M, 64 * K, true),
                new Change(4 * M + 64 * K, 64 * K, false), new Change(4 * M + 128 * K, M - 128 * K, true)), extents);
        assertEquals(extents.stream().mapToLong(Change::length).sum(), n.get("changed_bytes").asLong());
        assertEquals(M - 64 * K, n.get("zero_bytes").asLong());
        assertAgreesWithQemu("2", 4 * M, null, 5 * M, extents);
    }

    /** FROM larger than TO: past TO's end all is changed and nothing reads zeros. */
    @Test
    void jsonToASmallerDisk() throws IOException {
        JsonNode n = json("s3", "s2");
        List<Change> extents = extents(n);
        assertEquals(List.of(new Change(4 * M, M, false)), extents);
        assertAgreesWithQemu("3", 5 * M, "2", 4 * M, extents);
    }

    @Test
    void jsonOfASnapshotWithItself() throws IOException {
        JsonNode n = json("s1", "1");
        assertEquals(0, n.get("extents").size());
        assertEquals(0, n.get("changed_bytes").asLong());
        assertEquals(0, n.get("extent_count").asInt());
    }

    @Test
    void humanOutput() {
        CliRun r = CliRun.of("diff", img.toString(), "s1", "s2");
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.err());
        List<String> lines = r.outText().lines().toList();
        assertEquals("Changes in web01.qcow2 from snapshot 1 's1' to snapshot 2 's2':", lines.get(0), r.outText());
        assertEquals(List.of(row("Offset", "Length", "TO reads"), row("0", "0x20000", "zeros"),
                row("0x100000", "0x10000", "data")), lines.subList(1, 4), r.outText());
        assertEquals(5, lines.size(), r.outText());
        assertTrue(lines.get(4).contains("(196608 bytes,") && lines.get(4).contains(" in 2 ranges;")
                && lines.get(4).contains("zeros in 128 KiB"), lines.get(4));
    }

    @Test
    void humanOutputToTheActiveLayerAndPastTheEnd() {
        CliRun r = CliRun.of("diff", img.toString(), "s2");
        assertEquals(0, r.status(), r.toString());
        String out = r.outText();
        assertTrue(out.startsWith("Changes in web01.qcow2 from snapshot 2 's2' to the active layer:\n"), out);
        assertTrue(out.contains("\n" + row("0x300000", "0x10000", "data") + "\n"), out);
        assertTrue(out.contains("\n" + row("0x400000", "0x10000", "zeros") + "\n"), out);
        assertTrue(out.contains("\nThe disk size changed from 4 MiB to 5 MiB.\n"), out);

        CliRun back = CliRun.of("diff", img.toString(), "s3", "s2");
        assertEquals(0, back.status(), back.toString());
        assertTrue(back.outText().contains("\n" + row("0x400000", "0x100000", "-") + "\n"), back.outText());
        assertTrue(back.outText().contains("\nThe disk size changed from 5 MiB to 4 MiB.\n"), back.outText());
    }

    @Test
    void unknownFromSnapshot() {
        assertUnknownSnapshot("nosuch", "diff", img.toString(), "nosuch", "s2");
        assertUnknownSnapshot("nosuch", "diff", img.toString(), "nosuch", "--output", "json");
    }

    @Test
    void unknownToSnapshot() {
        assertUnknownSnapshot("7", "diff", img.toString(), "s1", "7");
        assertUnknownSnapshot("7", "diff", img.toString(), "s1", "7", "--output", "json");
    }

    @Test
    void missingImage() {
        Path missing = dir.resolve("missing.qcow2");
        CliRun r = CliRun.of("diff", missing.toString(), "s1");
        assertEquals(1, r.status(), r.toString());
        assertEquals(0, r.out().length, r.toString());
        assertTrue(r.err().startsWith("qsnapfs: ") && r.err().contains("missing.qcow2"), r.err());
    }

    @Test
    void usageErrors() {
        CliRun noFrom = CliRun.of("diff", img.toString());
        assertEquals(2, noFrom.status(), noFrom.toString());
        CliRun tooMany = CliRun.of("diff", img.toString(), "s1", "s2", "s3");
        assertEquals(2, tooMany.status(), tooMany.toString());
        CliRun badFormat = CliRun.of("diff", img.toString(), "s1", "--output", "xml");
        assertEquals(2, badFormat.status(), badFormat.toString());
    }

    // ---- helpers ------------------------------------------------------------------------------

    private void assertUnknownSnapshot(String snapshot, String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(1, r.status(), r.toString());
        assertEquals(0, r.out().length, "nothing on standard output: " + r);
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().startsWith("qsnapfs: web01.qcow2: "), r.err());
        assertTrue(r.err().contains("'" + snapshot + "'"), r.err());
    }

    private JsonNode json(String... fromTo) throws IOException {
        List<String> args = new ArrayList<>(List.of("diff", img.toString()));
        args.addAll(List.of(fromTo));
        args.addAll(List.of("--output", "json"));
        CliRun r = CliRun.of(args.toArray(new String[0]));
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.err());
        return JSON.readTree(r.out());
    }

    private static List<Change> extents(JsonNode n) {
        List<Change> out = new ArrayList<>();
        for (JsonNode e : n.get("extents")) {
            assertEquals(List.of("start", "length", "zero"), names(e));
            assertTrue(e.get("zero").isBoolean(), e.toString());
            out.add(new Change(e.get("start").asLong(), e.get("length").asLong(), e.get("zero").asBoolean()));
        }
        assertEquals(out.size(), n.get("extent_count").asInt());
        assertEquals(out.stream().mapToLong(Change::length).sum(), n.get("changed_bytes").asLong());
        assertEquals(out.stream().filter(Change::zero).mapToLong(Change::length).sum(), n.get("zero_bytes").asLong());
        return out;
    }

    private static void assertSide(JsonNode side, String id, String name, long size) {
        assertEquals(List.of("id", "name", "disk_size"), names(side));
        assertEquals(id, side.get("id").asText());
        assertEquals(name, side.get("name").asText());
        assertEquals(size, side.get("disk_size").asLong());
    }

    /** The ranges miss no byte in which QEMU's reads of the two disks (each at its own size) differ. */
    private void assertAgreesWithQemu(String fromId, long fromSize, String toId, long toSize, List<Change> extents) {
        long now = 5 * M;
        byte[] from = Qemu.snapshotBytesAtOwnSize(img, fromId, fromSize, now, dir);
        byte[] to = toId == null ? Qemu.activeBytes(img, dir) : Qemu.snapshotBytesAtOwnSize(img, toId, toSize, now, dir);
        assertFalse(extents.isEmpty());
        DiffOracle.assertDiff(from, to, extents, null, 65536, "qsnapfs diff " + fromId + " " + toId);
    }

    private static List<String> names(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static String row(String offset, String length, String reads) {
        return String.format("%-16s%-16s%s", offset, length, reads);
    }

    /** A damaged table met partway: an error line and nothing on standard output, not half a document. */
    @Test
    void aDamagedTablePrintsNothing() throws Exception {
        Path img = Qemu.create(dir.resolve("damaged.qcow2"), "4M", "");
        Qemu.io(img, "write -P 1 0 128k", "write -P 1 2M 64k");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -P 2 0 128k", "write -P 2 2M 64k");
        long entry = TableWalk.of(img).l2EntryPos(2L << 20);
        Poke.u64(img, entry, Poke.readU64(img, entry) + 512);
        for (String format : new String[] {"json", "human"}) {
            CliRun r = CliRun.of("diff", img.toString(), "s1", "--output", format);
            assertEquals(1, r.status(), r.toString());
            assertEquals("", r.outText(), format);
            assertTrue(r.err().startsWith("qsnapfs: damaged.qcow2: ") && r.err().contains("not aligned"), r.err());
        }
    }
}
