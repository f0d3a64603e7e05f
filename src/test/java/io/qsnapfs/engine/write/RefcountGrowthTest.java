package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu.Listed;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Our create must grow the refcount structures when its new clusters lie beyond them: a new
 * refcount block where the table has a free entry, and a new, larger refcount table somewhere
 * else when the table is full. 512-byte clusters with 64-bit refcounts make that quick: one table
 * cluster covers 4096 clusters. The header says whether the table moved and grew; QEMU's check
 * and reads say whether the result is right.
 */
class RefcountGrowthTest {
    @TempDir
    Path dir;

    @Test
    void createMovesAndGrowsAFullRefcountTable() {
        Path img = RefcountLayout.nearFullTable(dir.resolve("full.qcow2"), "16M", 6);
        byte[] data = Qemu.activeBytes(img, dir);
        RefcountLayout before = RefcountLayout.of(img);
        List<String> names = new ArrayList<>();
        RefcountLayout after = before;
        for (int i = 0; i < 30 && after.tableOffset() == before.tableOffset(); i++) {
            names.add(ourCreate(img, "g" + i));
            after = RefcountLayout.of(img);
        }
        String story = "before: " + before + "\nafter " + names.size() + " creates: " + after;
        assertNotEquals(before.tableOffset(), after.tableOffset(), "the table never moved; " + story);
        assertTrue(after.tableClusters() > before.tableClusters(), "the table did not grow; " + story);
        assertTrue(after.covered() >= after.fileClusters(), "the new table does not cover the file; " + story);
        Oracle.assertClean(img, story);
        assertSnapshots(img, names, data, story);

        // The grown table serves QEMU and us from now on.
        Qemu.io(img, "write -P 0x77 8M 1M");
        Qemu.snapshot(img, "after-growth");
        names.add("after-growth");
        ourCreate(img, "ours-after-growth");
        Oracle.assertClean(img, story + "\nafter more writes and snapshots");
        for (String n : names) {
            try (WritableImage w = WritableImage.open(img)) {
                w.delete(n);
            }
        }
        Oracle.assertClean(img, story + "\nafter deleting all but one");
        assertEquals(List.of("ours-after-growth"), Qemu.snapshotNames(img));
    }

    @Test
    void createAddsARefcountBlockWithoutMovingTheTable() {
        Path img = Qemu.create(dir.resolve("blocks.qcow2"), "16M", "cluster_size=512,refcount_bits=64");
        Qemu.io(img, "write -P 0x31 0 300k", "write -P 0x32 4M 200k");
        byte[] data = Qemu.activeBytes(img, dir);
        RefcountLayout before = RefcountLayout.of(img);
        assertTrue(before.headroom() > 1000, before.toString());
        List<String> names = new ArrayList<>();
        RefcountLayout after = before;
        for (int i = 0; i < 20 && after.blocks() == before.blocks(); i++) {
            names.add(ourCreate(img, "b" + i));
            after = RefcountLayout.of(img);
        }
        String story = "before: " + before + "\nafter " + names.size() + " creates: " + after;
        assertTrue(after.blocks() > before.blocks(), "no refcount block was added; " + story);
        assertEquals(before.tableOffset(), after.tableOffset(), "the table moved although it had room; " + story);
        assertEquals(before.tableClusters(), after.tableClusters(), story);
        Oracle.assertClean(img, story);
        assertSnapshots(img, names, data, story);
    }

    /**
     * The snapshot's copy of the L1 table needs a run of free clusters longer than one refcount
     * block covers (512-byte clusters: 64 clusters per block at 64 bits, 256 at 16 bits). Such a
     * run lies across ranges that have no refcount block yet. Runs in a child JVM with a time
     * limit: an allocator that never finds the run must fail the test, not hang it.
     */
    @ParameterizedTest(name = "{0}-bit refcounts, {1} disk")
    @CsvSource({"64, 128M", "16, 600M"})
    void createWithAnL1TableLongerThanARefcountBlockCovers(int bits, String size) throws IOException {
        Path img = Qemu.create(dir.resolve("long-l1.qcow2"), size, "cluster_size=512,refcount_bits=" + bits);
        Qemu.io(img, "write -P 1 0 1M", "write -P 2 100M 64k", "write -c -P 3 120M 4k");
        ChildWrite.run("create", img, "long", 15);
        Qemu.io(img, "write -P 4 8M 4k");
        ChildWrite.run("create", img, "long2", 15);
        Oracle.assertClean(img, "after two creates");
        assertEquals(List.of("long", "long2"), Qemu.snapshotNames(img));
        Path first = Qemu.convertToFile(img, "1", dir.resolve("first.raw"));
        Path second = Qemu.convertToFile(img, "2", dir.resolve("second.raw"));
        Path active = Qemu.convertToFile(img, null, dir.resolve("active.raw"));
        assertEquals(-1, Files.mismatch(second, active), "snapshot long2 differs from the active layer");
        assertEquals(8L << 20, Files.mismatch(first, active), "snapshot long differs from the active layer before"
                + " the one write made after it, or not there");
        ChildWrite.run("delete", img, "long", 15);
        ChildWrite.run("apply", img, "long2", 15);
        Oracle.assertClean(img, "after delete and apply");
    }

    private static String ourCreate(Path img, String name) {
        try (WritableImage w = WritableImage.open(img)) {
            SnapshotEntry e = w.create(name);
            return e.nameString();
        }
    }

    private void assertSnapshots(Path img, List<String> names, byte[] data, String story) {
        List<Listed> listed = Qemu.snapshots(img);
        assertEquals(names, listed.stream().map(Listed::name).toList(), story);
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(listed.toString(),
                    qi.snapshots().stream().map(e -> new Listed(e.idString(), e.nameString())).toList().toString());
        }
        for (Listed l : listed) {
            Bytes.assertSameBytes(data, Qemu.snapshotBytes(img, l.id(), dir), "snapshot " + l + "; " + story);
        }
        Bytes.assertSameBytes(data, Qemu.activeBytes(img, dir), "active layer; " + story);
    }
}
