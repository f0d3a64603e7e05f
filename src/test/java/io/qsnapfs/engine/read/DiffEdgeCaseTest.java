package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.format.L2Entry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.DiffOracle;
import io.qsnapfs.testing.DiffOracle.Change;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cases of {@link Diff}'s rules that {@link DiffRulesTest} leaves out and random histories reach
 * rarely, each on a small image where the changed ranges are known exactly: asserted to the byte,
 * both ways, and judged against QEMU's reads of the two disks with {@link DiffOracle}. A cluster
 * compressed twice (two descriptors), zero against unallocated past the end of a qcow2 or raw
 * backing file, an allocated zero cluster against a plain one (the entries checked with
 * {@link TableWalk}), entries that differ only in the COPIED flag.
 */
class DiffEdgeCaseTest {
    private static final long K = 1024;

    @TempDir
    Path dir;

    /** Same descriptor: unchanged; a new compressed write to the same guest cluster: changed. */
    @Test
    void aClusterCompressedTwiceIsChanged() throws IOException {
        Path img = Qemu.create(dir.resolve("c.qcow2"), "1M", "cluster_size=65536");
        Qemu.io(img, "write -c -P 0x11 0 64K");
        Qemu.io(img, "write -c -P 0x12 64K 64K");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "discard 0 64K");
        Qemu.io(img, "write -c -P 0x13 0 64K");
        TableWalk walk = TableWalk.of(img);
        long before = walk.l2Entry(1, 0);
        long now = walk.l2Entry(0, 0);
        assertTrue(L2Entry.isCompressed(before) && L2Entry.isCompressed(now) && before != now,
                "two compressed descriptors: " + Long.toHexString(before) + ", " + Long.toHexString(now));
        assertEquals(walk.l2Entry(1, 64 * K), walk.l2Entry(0, 64 * K), "cluster 1 shared");
        assertChanges(img, "1", List.of(new Change(0, 64 * K, false)));
    }

    /**
     * Over a qcow2 backing file: unchanged where the backing file reads zeros by its own metadata
     * (unallocated, or past its end), changed where it has data.
     */
    @Test
    void zeroAgainstUnallocatedPastTheEndOfAQcow2Backing() throws IOException {
        Path base = Qemu.create(dir.resolve("base.qcow2"), "768K", "cluster_size=65536");
        Qemu.io(base, "write -P 0x55 256K 64K");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", "-b", "base.qcow2", "-F", "qcow2",
                dir.resolve("top.qcow2").toString(), "1M");
        Path img = dir.resolve("top.qcow2");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -z 0 64K", "write -z 256K 64K", "write -z 896K 64K");
        assertChanges(img, "1", List.of(new Change(256 * K, 64 * K, true)));
    }

    /**
     * Over a raw backing file only its bytes could tell, so zero against unallocated is changed
     * inside it, and unchanged past its end.
     */
    @Test
    void zeroAgainstUnallocatedPastTheEndOfARawBacking() throws IOException {
        Bytes.writeFile(dir.resolve("base.raw"), Bytes.noise(512 * (int) K, 7));
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", "-b", "base.raw", "-F", "raw",
                dir.resolve("top.qcow2").toString(), "1M");
        Path img = dir.resolve("top.qcow2");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -z 0 64K", "write -z 768K 64K");
        assertChanges(img, "1", List.of(new Change(0, 64 * K, true)));
    }

    /** An allocated zero cluster (zero flag and a host offset) and a plain one both read zeros. */
    @Test
    void allocatedZeroAgainstPlainZero() throws IOException {
        Path img = Qemu.create(dir.resolve("za.qcow2"), "1M", "cluster_size=65536");
        Qemu.io(img, "write -P 0x11 0 64K", "write -z 0 64K");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -z -u 0 64K", "write -P 0x22 512K 4K");
        TableWalk walk = TableWalk.of(img);
        long allocated = walk.l2Entry(1, 0);
        long plain = walk.l2Entry(0, 0);
        assertTrue((allocated & L2Entry.ZERO) != 0 && (allocated & L2Entry.OFFSET_MASK) != 0,
                "the snapshot's entry is an allocated zero cluster: " + Long.toHexString(allocated));
        assertEquals(L2Entry.ZERO, plain, "the active entry is a plain zero cluster");
        assertChanges(img, "1", List.of(new Change(512 * K, 64 * K, false)));
    }

    /** The COPIED flag says how many refer to a cluster, not what it holds. */
    @Test
    void entriesDifferingOnlyInTheCopiedFlagAreUnchanged() throws IOException {
        Path img = Qemu.create(dir.resolve("copied.qcow2"), "1M", "cluster_size=65536");
        Qemu.io(img, "write -P 0x11 0 128K");
        Qemu.snapshot(img, "s1");
        Qemu.io(img, "write -P 0x22 512K 4K"); // the active layer gets its own L2 table
        TableWalk walk = TableWalk.of(img);
        long pos = walk.l2EntryPos(1, 0);
        long entry = Poke.readU64(img, pos);
        assertEquals(entry, walk.l2Entry(0, 0), "cluster 0 shared");
        Poke.u64(img, pos, entry | L2Entry.COPIED); // in the snapshot's own table only
        assertTrue(walk.l2Entry(1, 0) != walk.l2Entry(0, 0));
        Oracle.assertClean(img); // QEMU checks COPIED in the active tables only
        Oracle.assertImageMatchesQemu(Ours::open, img, dir, new int[] {65536}, 8, 0);
        assertChanges(img, "1", List.of(new Change(512 * K, 64 * K, false)));
    }

    /**
     * Asserts the diff from snapshot {@code fromId} to the active layer is exactly {@code expected},
     * that the other direction covers the same ranges, and that QEMU's reads agree.
     */
    private void assertChanges(Path img, String fromId, List<Change> expected) throws IOException {
        try (QcowImage qi = QcowImage.open(img)) {
            Qcow2View from = qi.snapshotView(qi.findById(fromId));
            Qcow2View to = qi.activeView();
            List<Change> forward = changes(Diff.list(from, to));
            List<Change> backward = changes(Diff.list(to, from));
            String what = img.getFileName() + ": diff from snapshot " + fromId + " to the active layer";
            assertEquals(expected, forward, what);
            DiffOracle.assertSameRanges(forward, backward, what + ", both ways");
            byte[] a = Qemu.snapshotBytes(img, fromId, dir);
            byte[] b = Qemu.activeBytes(img, dir);
            DiffOracle.assertDiff(a, b, forward, null, 512, what);
            DiffOracle.assertDiff(b, a, backward, null, 512, what + ", backwards");
        }
    }

    private static List<Change> changes(List<DiffExtent> extents) {
        return extents.stream().map(e -> new Change(e.start(), e.length(), e.zero())).toList();
    }
}
