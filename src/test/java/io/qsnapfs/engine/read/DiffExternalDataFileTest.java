package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.qsnapfs.format.Features;
import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.testing.DiffOracle;
import io.qsnapfs.testing.DiffOracle.Change;
import io.qsnapfs.testing.MetadataPoker;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Diff} on an image with an external data file and a snapshot. QEMU refuses to take
 * internal snapshots of such an image, so it is crafted: a plain image whose host clusters QEMU
 * happens to place at their guest offsets (as a data file requires: QEMU reads a data cluster at
 * the guest offset and calls any other host offset corrupt) gets a snapshot and writes, its file
 * is copied to be the data file, and the data-file feature bit and the data file name extension
 * are poked into its header. QEMU then reads both disks, and a write through {@code qemu-io} lands
 * in place in the data file, in a cluster both trees share: the snapshot's bytes change with the
 * active layer's. Metadata cannot see that, so the diff must report every range with data in
 * either disk, while without a data file it skips the clusters both trees share.
 */
class DiffExternalDataFileTest {
    private static final int CS = 65536;

    @TempDir
    Path dir;

    @Test
    void everyRangeWithDataIsChangedBecauseTheDataFileIsWrittenInPlace() throws IOException {
        Path img = Qemu.create(dir.resolve("img.qcow2"), "4M", "cluster_size=" + CS);
        // Clusters 0-4 hold the header, refcount table and block, L1 table and the first L2 table,
        // so the first data cluster lands at 0x50000; after the snapshot (its L1 table, the snapshot
        // table) the copy of the L2 table takes 0xb0000 and the next data cluster 0xc0000.
        Qemu.io(img, "write -P 0x11 0x50000 256k");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -P 0x22 0xc0000 64k");
        TableWalk walk = TableWalk.of(img);
        BitSet snapshotData = walk.dataClusters(1);
        BitSet activeData = walk.dataClusters(0);
        assertEquals(bits(5, 6, 7, 8), snapshotData, "the snapshot's data clusters");
        assertEquals(bits(5, 6, 7, 8, 12), activeData, "the active layer's data clusters");
        for (int c = activeData.nextSetBit(0); c >= 0; c = activeData.nextSetBit(c + 1)) {
            assertEquals(c, walk.hostCluster((long) c * CS),
                    "QEMU no longer places guest cluster " + c + " at the same host offset; this recipe needs that");
        }
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(List.of(new DiffExtent(0xc0000, CS, false)),
                    Diff.list(qi.snapshotView(qi.findSnapshot("s1")), qi.activeView()),
                    "without a data file only the cluster written after the snapshot changed");
        }

        moveDataToADataFile(img);
        byte[] snapshot = Qemu.snapshotBytes(img, "1", dir);
        assertArrayEquals(expected(0x11, 0x50000, 0x90000, 0, 0, 0), snapshot, "QEMU's read of the crafted snapshot");
        assertArrayEquals(expected(0x11, 0x50000, 0x90000, 0x22, 0xc0000, 0xd0000), Qemu.activeBytes(img, dir),
                "QEMU's read of the crafted active layer");

        Qemu.io(img, "write -P 0x77 0x50000 4k");
        byte[] snapshotNow = Qemu.snapshotBytes(img, "1", dir);
        byte[] activeNow = Qemu.activeBytes(img, dir);
        assertEquals(0x77, snapshotNow[0x50000], "QEMU wrote the data file in place, under the snapshot too");
        assertEquals(0x77, activeNow[0x50000]);

        BitSet data = TableWalk.of(img).dataClusters(1);
        data.or(TableWalk.of(img).dataClusters(0));
        assertEquals(bits(5, 6, 7, 8, 12), data, "data clusters in either disk after the write");
        try (QcowImage qi = QcowImage.open(img)) {
            Qcow2View s1 = qi.snapshotView(qi.findSnapshot("s1"));
            Qcow2View active = qi.activeView();
            List<Change> forward = changes(Diff.list(s1, active));
            List<Change> backward = changes(Diff.list(active, s1));
            List<Change> everyDataRange = List.of(new Change(0x50000, 4 * CS, false), new Change(0xc0000, CS, false));
            assertEquals(everyDataRange, forward, "diff from s1 to the active layer");
            assertEquals(List.of(new Change(0x50000, 4 * CS, false), new Change(0xc0000, CS, true)), backward,
                    "diff from the active layer to s1 (which reads zeros at 0xc0000)");
            DiffOracle.assertDiff(snapshotNow, activeNow, forward, null, CS, "diff from s1 to the active layer");
            DiffOracle.assertDiff(activeNow, snapshotNow, backward, null, CS, "diff from the active layer to s1");
        }
    }

    /**
     * Both trees share one L2 table, which says nothing either: with 512-byte clusters (one L2
     * table covers 32 KiB) a write at 0xa00 lands at host 0xa00 (the header, refcount table and
     * block, L1 and L2 tables take clusters 0-4); after the snapshot, bytes written into the data
     * file there (as a VM writing through the data file does) change both disks, and the diff
     * must still report all of their data.
     */
    @Test
    void aSharedL2TableDoesNotHideInPlaceWrites() throws IOException {
        Path img = Qemu.create(dir.resolve("small.qcow2"), "1M", "cluster_size=512");
        Qemu.io(img, "write -P 0x11 0xa00 0x7600");
        Qemu.snapshot(img, "s1");
        TableWalk walk = TableWalk.of(img);
        BitSet data = walk.dataClusters(0);
        assertEquals(walk.dataClusters(1), data);
        assertEquals(0x7600 / 512, data.cardinality());
        for (int c = data.nextSetBit(0); c >= 0; c = data.nextSetBit(c + 1)) {
            assertEquals(c, walk.hostCluster(c * 512L),
                    "QEMU no longer places guest cluster " + c + " at the same host offset; this recipe needs that");
        }
        long snapshotL1 = walk.l1Tables().get(1)[0];
        assertEquals(walk.l2Cluster(0) << 9, Poke.readU64(img, snapshotL1) & L2Entry.OFFSET_MASK,
                "the snapshot and the active layer share the L2 table");

        Path dataFile = moveDataToADataFile(img);
        byte[] written = new byte[1024];
        Arrays.fill(written, (byte) 0x77);
        Poke.bytes(dataFile, 0x1000, written);
        byte[] snapshot = Qemu.snapshotBytes(img, "1", dir);
        byte[] active = Qemu.activeBytes(img, dir);
        assertEquals(0x77, snapshot[0x1000], "QEMU reads the bytes written into the data file in the snapshot");
        assertEquals(0x77, active[0x1000]);
        try (QcowImage qi = QcowImage.open(img)) {
            Qcow2View s1 = qi.snapshotView(qi.findSnapshot("s1"));
            Qcow2View act = qi.activeView();
            List<Change> everyDataRange = List.of(new Change(0xa00, 0x7600, false));
            assertEquals(everyDataRange, changes(Diff.list(s1, act)), "diff from s1 to the active layer");
            assertEquals(everyDataRange, changes(Diff.list(act, s1)), "diff from the active layer to s1");
        }
    }

    /**
     * Makes {@code img}'s own file its external data file: copies it to {@code img.data} (so every
     * host offset still finds its data), sets the data-file feature bit and adds the extension
     * naming the copy. An absolute name: QEMU 7.2 opens a relative data file name from its working
     * directory, not the image's.
     */
    private static Path moveDataToADataFile(Path img) throws IOException {
        Path dataFile = Files.copy(img, img.resolveSibling(img.getFileName() + ".data"));
        MetadataPoker poker = MetadataPoker.of(img);
        poker.setIncompatibleFeatures(Features.INCOMPAT_DATA_FILE);
        poker.addHeaderExtension(HeaderExtension.EXTERNAL_DATA_FILE, dataFile.toString().getBytes(StandardCharsets.UTF_8));
        assertEquals(dataFile.toString(), TableWalk.of(img).header().dataFileName());
        return dataFile;
    }

    private static List<Change> changes(List<DiffExtent> extents) {
        return extents.stream().map(e -> new Change(e.start(), e.length(), e.zero())).toList();
    }

    private static BitSet bits(int... clusters) {
        BitSet b = new BitSet();
        Arrays.stream(clusters).forEach(b::set);
        return b;
    }

    /** A 4 MiB disk of zeros with {@code a} in {@code [aFrom, aTo)} and {@code b} in {@code [bFrom, bTo)}. */
    private static byte[] expected(int a, int aFrom, int aTo, int b, int bFrom, int bTo) {
        byte[] d = new byte[4 << 20];
        Arrays.fill(d, aFrom, aTo, (byte) a);
        Arrays.fill(d, bFrom, bTo, (byte) b);
        return d;
    }
}
