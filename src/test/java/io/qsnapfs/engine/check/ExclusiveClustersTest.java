package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import io.qsnapfs.testing.TableWalk;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Exclusive bytes against reality: for every snapshot of images of several kinds, what {@link
 * ExclusiveClusters} says equals what {@code qemu-img snapshot -d} of that snapshot alone frees on a
 * copy, counted by the independent walker ({@link Oracle#assertDeletionFrees}). Every figure is
 * computed twice, the second time with a window of a few references, so that the walk is repeated
 * over many ranges of clusters.
 */
class ExclusiveClustersTest {
    /** A window so small that every snapshot here takes many walks. */
    private static final int TINY_WINDOW = 7;

    @TempDir
    Path dir;

    /** Our exclusive bytes of each snapshot, in table order, checked against the tiny window. */
    private static List<Long> exclusive(Path image) {
        List<Long> out = new ArrayList<>();
        try (ImageFile file = ImageFile.openReadOnly(image)) {
            ExclusiveClusters counter = ExclusiveClusters.of(file);
            ExclusiveClusters tiny = ExclusiveClusters.of(file, TINY_WINDOW);
            for (SnapshotEntry s : counter.snapshots()) {
                long bytes = counter.bytes(s);
                assertEquals(bytes, tiny.bytes(s), () -> "window of " + TINY_WINDOW + ", snapshot " + s.nameString());
                out.add(bytes);
            }
        }
        return out;
    }

    /** Asserts every snapshot's figure against QEMU's deletion; returns the figures. */
    private List<Long> assertEachFreedByDeletion(Path image) {
        List<Long> bytes = exclusive(image);
        List<Qemu.Listed> listed = Qemu.snapshots(image);
        assertEquals(listed.size(), bytes.size());
        for (int i = 0; i < listed.size(); i++) {
            Oracle.assertDeletionFrees(image, listed.get(i).name(), bytes.get(i), dir);
        }
        return bytes;
    }

    private Path create(String name, String size, String options) {
        return Qemu.create(dir.resolve(name), size, options);
    }

    @Test
    void snapshotsWithOverwrittenDiscardedAndZeroedData() {
        Path img = create("plain.qcow2", "64M", "");
        Qemu.io(img, "write -P 1 0 8M", "write -P 2 20M 3M");
        Qemu.snapshot(img, "base");
        Qemu.snapshot(img, "same-as-base");
        Qemu.io(img, "write -P 3 1M 2M", "write -z 6M 512k", "discard 21M 1M");
        Qemu.snapshot(img, "middle");
        Qemu.io(img, "write -P 4 0 4M", "write -P 5 40M 5M");
        Qemu.snapshot(img, "top");
        Qemu.io(img, "write -P 6 40M 1M", "discard 0 8M");
        List<Long> bytes = assertEachFreedByDeletion(img);
        long cluster = 65536;
        // two snapshots share every L2 table: only their own L1 tables are theirs
        assertEquals(cluster, bytes.get(0), "base");
        assertEquals(cluster, bytes.get(1), "same-as-base");
        assertTrue(bytes.get(2) > 2 * cluster && bytes.get(3) > 4 * cluster, bytes::toString);
    }

    @Test
    void onlySnapshotOwnsEverythingTheActiveLayerDropped() {
        Path img = create("alone.qcow2", "16M", "");
        Qemu.io(img, "write -P 7 0 5M");
        Qemu.snapshot(img, "only");
        Qemu.io(img, "discard 0 16M");
        // its L1 table, its L2 table, 80 data clusters: the active layer holds none of them any more
        assertEquals((1 + 1 + 80) * 65536L, assertEachFreedByDeletion(img).get(0));
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 2 << 20})
    void smallestAndLargestClusters(int clusterSize) {
        Path img = create("c" + clusterSize + ".qcow2", "24M", "cluster_size=" + clusterSize);
        Qemu.io(img, "write -P 1 0 6M", "write -P 2 9M 3k", "write -c -P 3 12M " + clusterSize);
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 4 1M 1M", "write -P 5 16M 2M", "discard 4M 1M");
        Qemu.snapshot(img, "b");
        Qemu.io(img, "write -P 6 0 3M", "discard 12M " + clusterSize, "write -c -P 7 12M " + clusterSize);
        Qemu.snapshot(img, "c");
        Qemu.io(img, "discard 16M 8M");
        List<Long> bytes = assertEachFreedByDeletion(img);
        assertTrue(bytes.stream().allMatch(b -> b > clusterSize), bytes::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = {"zlib", "zstd"})
    void compressedClustersSharingHostClusters(String type) {
        Path img = create("z-" + type + ".qcow2", "16M", "compression_type=" + type);
        List<String> writes = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            writes.add("write -c -P " + (i + 1) + " " + i * 65536 + " 64k"); // each compresses to a few hundred bytes
        }
        Qemu.io(img, writes.toArray(new String[0]));
        Qemu.snapshot(img, "all-compressed");
        // compression cannot overwrite: the cluster is discarded first
        Qemu.io(img, "discard 0 64k", "write -c -P 99 0 64k", "write -P 98 65536 64k", "discard 131072 64k");
        Qemu.snapshot(img, "some-rewritten");
        Qemu.io(img, "discard 0 1M");
        Qemu.snapshot(img, "most-gone");
        Qemu.io(img, "discard 1M 1M");
        writes.clear();
        for (int i = 0; i < 8; i++) {
            writes.add("write -c -P " + (50 + i) + " " + (4 << 20 | i * 65536) + " 64k");
        }
        Qemu.io(img, writes.toArray(new String[0]));
        Qemu.snapshot(img, "packed-alone");
        Qemu.io(img, "discard 4M 1M");
        assertTrue(TableWalk.of(img).compressedEntries().size() > 30, "compressed entries made");
        List<Long> bytes = assertEachFreedByDeletion(img);
        // a host cluster packed with compressed data is freed only when every compressed entry in it
        // belongs to the deleted snapshot: here eight entries share one host cluster of its own, whose
        // refcount of 8 all comes from the snapshot, besides its L1 and L2 table
        assertEquals(3 * 65536L, bytes.get(3), bytes::toString);
    }

    @Test
    void extendedL2WithSubclusters() {
        Path img = create("ext.qcow2", "32M", "extended_l2=on,cluster_size=128k");
        Qemu.io(img, "write -P 1 0 1M", "write -P 2 4k 4k", "write -z 256k 8k", "write -P 3 2M 12k");
        Qemu.snapshot(img, "e1");
        Qemu.io(img, "write -P 4 8k 4k", "write -c -P 5 4M 128k", "discard 0 128k");
        Qemu.snapshot(img, "e2");
        Qemu.io(img, "write -P 6 2M 128k", "write -z 4M 128k");
        Qemu.snapshot(img, "e3");
        Qemu.io(img, "discard 0 32M");
        List<Long> bytes = assertEachFreedByDeletion(img);
        assertTrue(bytes.stream().allMatch(b -> b >= 2 * 131072), bytes::toString);
    }

    @Test
    void refcountWidths() {
        for (int bits : new int[] {2, 64}) {
            Path img = create("r" + bits + ".qcow2", "8M", "refcount_bits=" + bits + ",cluster_size=4096");
            Qemu.io(img, "write -P 1 0 2M");
            Qemu.snapshot(img, "one");
            Qemu.io(img, "write -P 2 512k 1M");
            Qemu.snapshot(img, "two");
            Qemu.io(img, "discard 0 1M");
            assertEachFreedByDeletion(img);
        }
    }

    @Test
    void savevmSnapshotsCountTheirVmState() {
        Path img = create("vm.qcow2", "64M", "");
        Qemu.io(img, "write -P 1 0 4M");
        QemuVm.savevm(img, "vm1");
        Qemu.io(img, "write -P 2 1M 2M");
        QemuVm.savevm(img, "vm2", "vm3");
        Qemu.io(img, "write -P 3 0 1M");
        Qemu.snapshot(img, "disk-only");
        List<Long> bytes = assertEachFreedByDeletion(img);
        List<SnapshotEntry> entries;
        try (ImageFile file = ImageFile.openReadOnly(img)) {
            entries = ExclusiveClusters.of(file).snapshots();
        }
        for (int i = 0; i < 3; i++) {
            long vmState = entries.get(i).vmStateSize();
            assertTrue(vmState > 100_000, "VM state of " + entries.get(i).nameString() + ": " + vmState);
            // the VM state is the snapshot's alone: at least its clusters are freed with it
            assertTrue(bytes.get(i) >= vmState, bytes::toString);
        }
        assertEquals(0, entries.get(3).vmStateSize());
    }

    @Test
    void corruptTablesAreRefusedNamingTheSnapshot() {
        Path img = create("bad.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 1M");
        Qemu.snapshot(img, "s");
        Qemu.io(img, "write -P 2 0 1M");
        TableWalk walk = TableWalk.of(img);
        long snapshotL1 = walk.snapshotEntry(0).l1TableOffset();
        long l2 = Poke.readU64(img, snapshotL1) & L2Entry.OFFSET_MASK;
        Poke.u64(img, l2, (Poke.readU64(img, l2) & L2Entry.OFFSET_MASK) + 512 | 1L << 63); // misaligned data cluster
        try (ImageFile file = ImageFile.openReadOnly(img)) {
            ExclusiveClusters counter = ExclusiveClusters.of(file);
            ImageException e = assertThrows(ImageException.class, () -> counter.bytes(counter.snapshots().get(0)));
            assertEquals(ImageException.Kind.CORRUPT, e.kind());
            assertTrue(e.getMessage().startsWith("bad.qcow2: the tables of snapshot 1 ('s') cannot be counted: ERROR"),
                    e.getMessage());
        }
    }

    @Test
    void aSnapshotNoLongerInTheTableIsNotFound() {
        Path img = create("gone.qcow2", "8M", "");
        Qemu.snapshot(img, "kept");
        Qemu.snapshot(img, "deleted");
        SnapshotEntry deleted;
        try (ImageFile file = ImageFile.openReadOnly(img)) {
            deleted = ExclusiveClusters.of(file).snapshots().get(1);
        }
        Qemu.deleteSnapshot(img, "deleted");
        try (ImageFile file = ImageFile.openReadOnly(img)) {
            ImageException e = assertThrows(ImageException.class, () -> ExclusiveClusters.of(file).bytes(deleted));
            assertEquals(ImageException.Kind.NOT_FOUND, e.kind());
            assertEquals("gone.qcow2: snapshot 2 ('deleted') is no longer in the snapshot table", e.getMessage());
        }
    }
}
