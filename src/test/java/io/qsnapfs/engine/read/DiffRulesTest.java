package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each rule of {@link Diff} on an image made for it, with the exact extents expected: what the
 * tables say is the same is left out, everything else is reported, and {@code zero} is what TO
 * reads. (The seeded differential test checks the same against QEMU's bytes on random histories.)
 */
class DiffRulesTest {
    private static final long K = 1024;
    private static final long M = K * K;

    @TempDir
    Path dir;

    private static List<DiffExtent> diff(Path image, String from, String to) throws Exception {
        try (QcowImage img = QcowImage.open(image)) {
            Qcow2View a = img.snapshotView(img.findSnapshot(from));
            Qcow2View b = to == null ? img.activeView() : img.snapshotView(img.findSnapshot(to));
            return Diff.list(a, b);
        }
    }

    private static List<String> ranges(List<DiffExtent> extents) {
        return extents.stream().map(e -> e.start() + "+" + e.length()).toList();
    }

    private static DiffExtent x(long start, long length, boolean zero) {
        return new DiffExtent(start, length, zero);
    }

    @Test
    void sharedTablesAndClustersAreUnchangedAndRewrittenOnesChanged() throws Exception {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "1G", "");
        Qemu.io(img, "write -P 1 0 2M", "write -P 2 600M 1M");
        Qemu.snapshot(img, "one");
        assertEquals(List.of(), diff(img, "one", null), "nothing written since");
        Qemu.io(img, "write -P 3 64k 4k", "write -P 4 601M 64k", "write -P 5 900M 64k");
        // a 4 KiB write copies its whole 64 KiB cluster; an L2 table copied on write keeps the other entries
        assertEquals(List.of(x(64 * K, 64 * K, false), x(601 * M, 64 * K, false), x(900 * M, 64 * K, false)),
                diff(img, "one", null));
        Qemu.snapshot(img, "two");
        assertEquals(ranges(diff(img, "one", "two")), ranges(diff(img, "two", "one")), "symmetric in ranges");
    }

    @Test
    void zeroClustersPlainOrAllocatedAndUnallocatedWithoutBackingReadAlike() throws Exception {
        Path img = Qemu.create(dir.resolve("z.qcow2"), "8M", "");
        Qemu.io(img, "write -P 1 0 1M", "write -z 2M 64k");
        Qemu.snapshot(img, "one");
        // allocated-zero over data; plain zero over plain zero; zero over unallocated (no backing: zeros)
        Qemu.io(img, "write -z 0 64k", "write -z -u 2M 64k", "write -z 4M 64k");
        assertEquals(List.of(x(0, 64 * K, true)), diff(img, "one", null));
    }

    @Test
    void zerosOverABackingFileAreChangedOnlyWhereTheBackingHasData() throws Exception {
        Path base = Qemu.create(dir.resolve("base.qcow2"), "8M", "");
        Qemu.io(base, "write -P 7 1M 64k", "write -z 3M 64k");
        Path img = dir.resolve("over.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", img.toString(), "8M");
        Qemu.snapshot(img, "one");
        // over backing data, over a backing zero cluster, over an unallocated backing cluster
        Qemu.io(img, "write -z 1M 64k", "write -z 3M 64k", "write -z 5M 64k");
        assertEquals(List.of(x(M, 64 * K, true)), diff(img, "one", null));

        Path raw = dir.resolve("base.raw");
        Bytes.writeFile(raw, new byte[(int) (8 * M)]);
        Path overRaw = dir.resolve("over-raw.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", overRaw.toString(), "8M");
        Qemu.snapshot(overRaw, "one");
        Qemu.io(overRaw, "write -z 1M 64k");
        // a raw backing file's zeros are data: only reading it could tell, and diff reads no data
        assertEquals(List.of(x(M, 64 * K, true)), diff(overRaw, "one", null));
    }

    @Test
    void compressedClustersCompareByDescriptor() throws Exception {
        Path img = Qemu.create(dir.resolve("c.qcow2"), "4M", "");
        Qemu.io(img, "write -c -P 1 0 64k", "write -c -P 2 64k 64k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 3 64k 4k");
        assertEquals(List.of(x(64 * K, 64 * K, false)), diff(img, "one", null));
    }

    @Test
    void extendedL2ComparesSubclusters() throws Exception {
        Path img = Qemu.create(dir.resolve("e.qcow2"), "8M", "extended_l2=on,cluster_size=128k");
        Qemu.io(img, "write -P 1 0 128k", "write -P 2 1M 4k");
        Qemu.snapshot(img, "one");
        // a write into a cluster the snapshot shares copies it: the whole cluster moves; a write into
        // a fresh cluster allocates only its subcluster, the others stay unallocated in both
        Qemu.io(img, "write -P 3 4k 4k", "write -P 4 2M 4k", "write -z 3M 4k");
        assertEquals(List.of(x(0, 128 * K, false), x(2 * M, 4 * K, false)), diff(img, "one", null));
    }

    @Test
    void theRangePastTheSmallerDiskIsChanged() throws Exception {
        Path img = Qemu.create(dir.resolve("r.qcow2"), "4M", "");
        Qemu.io(img, "write -P 1 0 4M");
        Qemu.snapshot(img, "small");
        Qemu.resize(img, "6M");
        Qemu.io(img, "write -P 2 5M 64k");
        Qemu.snapshot(img, "large");
        assertEquals(List.of(x(4 * M, M, true), x(5 * M, 64 * K, false), x(5 * M + 64 * K, M - 64 * K, true)),
                diff(img, "small", "large"));
        // past TO's end, zero is false: TO has no bytes there
        assertEquals(List.of(x(4 * M, 2 * M, false)), diff(img, "large", "small"));
        // ranges stay coalesced across TO's end (the command's text splits them there)
        Qemu.io(img, "write -P 3 " + (4 * M - 64 * K) + " 64k");
        Qemu.snapshot(img, "larger");
        assertEquals(List.of(x(4 * M - 64 * K, 2 * M + 64 * K, false)), diff(img, "larger", "small"));
    }

    @Test
    void unknownSnapshotAndViewsOfTwoImagesAreRefused() throws Exception {
        Path a = Qemu.create(dir.resolve("u1.qcow2"), "1M", "");
        Path b = Qemu.create(dir.resolve("u2.qcow2"), "1M", "");
        try (QcowImage one = QcowImage.open(a); QcowImage two = QcowImage.open(b)) {
            ImageException e = assertThrows(ImageException.class, () -> one.findSnapshot("nope"));
            assertEquals("u1.qcow2: no snapshot with ID or name 'nope'", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Diff.list(one.activeView(), two.activeView()));
        }
    }
}
