package io.qsnapfs.engine.check;

import static io.qsnapfs.engine.check.QemuCheckOracle.assertCleanLikeQemu;
import static io.qsnapfs.engine.check.QemuCheckOracle.assertSameAsQemu;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.cli.CheckReport;
import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.MetadataPoker;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.SnapshotEntryPoker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The consistency check against {@code qemu-img check} on the same files: images of every kind
 * made by QEMU's tools must be clean with identical reports, planted faults must give identical
 * counts and findings, and so must seeded random images with and without faults.
 */
class ConsistencyCheckTest {
    @TempDir
    Path dir;

    private Path create(String name, String size, String options) {
        return Qemu.create(dir.resolve(name), size, options);
    }

    // ---- clean images ---------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8, 16, 32, 64})
    void everyRefcountWidthIsCleanWithQemusNumbers(int bits) {
        Path img = create("r" + bits + ".qcow2", "16M", "refcount_bits=" + bits + ",cluster_size=4096");
        Qemu.io(img, "write -P 1 0 3M", "write -P 2 5M 64k", "write -c -P 3 8M 4k");
        if (bits >= 2) {
            Qemu.snapshot(img, "s1");
            Qemu.io(img, "write -P 4 1M 512k");
        }
        if (bits >= 4) {
            Qemu.snapshot(img, "s2");
            Qemu.snapshot(img, "s3");
        }
        assertCleanLikeQemu(img);
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 1024, 4096, 65536, 262144, 2097152})
    void everyClusterSizeIsClean(int clusterSize) {
        Path img = create("c" + clusterSize + ".qcow2", "24M", "cluster_size=" + clusterSize);
        Qemu.io(img, "write -P 1 0 2M", "write -P 2 7M 3k", "write -c -P 3 12M " + clusterSize,
                "write -z 16M 1M", "discard 512k 512k");
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 5 1M 1M", "write -c -P 6 20M " + clusterSize);
        Qemu.snapshot(img, "b");
        Qemu.io(img, "discard 0 1M");
        assertCleanLikeQemu(img);
    }

    @ParameterizedTest
    @ValueSource(strings = {"zlib", "zstd"})
    void compressedClustersSharedBySnapshotsAreClean(String type) {
        Path img = create("z.qcow2", "16M", "compression_type=" + type + ",cluster_size=65536");
        List<String> cmds = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            cmds.add("write -c -P " + (i % 7 + 1) + " " + (i * 65536L) + " 64k");
        }
        Qemu.io(img, cmds.toArray(new String[0]));
        Qemu.snapshot(img, "one");
        Qemu.io(img, "discard 0 64k", "write -c -P 9 0 64k", "write -P 8 131072 4k");
        Qemu.snapshot(img, "two");
        CheckResult r = assertCleanLikeQemu(img);
        assertTrue(r.compressedClusters() > 30, CheckReport.human(r));
    }

    @Test
    void compressedRangesCrossingClusterBoundariesAreClean() {
        // 512-byte clusters: compressed clusters are packed back to back, so many straddle two
        // host clusters and several share one.
        Path raw = dir.resolve("half-random.raw");
        byte[] data = new byte[1 << 20];
        Random random = new Random(5);
        for (int i = 0; i < data.length; i += 512) {
            for (int j = 0; j < 150 + (i / 512) % 200; j++) {
                data[i + j] = (byte) random.nextInt();
            }
        }
        Bytes.writeFile(raw, data);
        Path packed = dir.resolve("packed.qcow2");
        Qemu.img("convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=512", raw.toString(),
                packed.toString());
        Qemu.snapshot(packed, "s");
        Qemu.io(packed, "discard 0 512", "write -c -P 7 0 512", "write -P 8 4096 4096");
        CheckResult r = assertCleanLikeQemu(packed);
        assertTrue(r.compressedClusters() > 1000, CheckReport.human(r));
    }

    @Test
    void zeroClustersAndPreallocationAreClean() {
        Path meta = create("meta.qcow2", "32M", "preallocation=metadata");
        Qemu.io(meta, "write -P 1 0 1M", "write -z 4M 1M", "write -z -u 8M 64k");
        Qemu.snapshot(meta, "s");
        Qemu.io(meta, "write -z 0 64k");
        assertCleanLikeQemu(meta);

        Path plain = create("plain.qcow2", "32M", "");
        Qemu.io(plain, "write -P 1 0 2M", "write -z 0 1M", "write -z -u 1M 512k", "discard 1536k 512k");
        assertCleanLikeQemu(plain);
    }

    @Test
    void extendedL2IsClean() {
        Path img = create("ext.qcow2", "32M", "extended_l2=on,cluster_size=65536");
        Qemu.io(img, "write -P 1 0 4k", "write -P 2 70k 2k", "write -z 200k 8k", "write -c -P 3 1M 64k",
                "write -P 4 2M 1M", "discard 2M 64k", "write -z -u 2112k 2k");
        Qemu.snapshot(img, "s");
        Qemu.io(img, "write -P 5 6k 2k");
        assertCleanLikeQemu(img);
    }

    @Test
    void snapshotsSharingClustersDeletedAndAppliedAreClean() {
        Path img = create("snaps.qcow2", "64M", "cluster_size=65536");
        Qemu.io(img, "write -P 1 0 8M");
        for (int i = 0; i < 6; i++) {
            Qemu.snapshot(img, "s" + i);
            Qemu.io(img, "write -P " + (i + 2) + " " + (i * 1024 * 1024) + " 1536k");
        }
        Qemu.deleteSnapshot(img, "s2");
        Qemu.applySnapshot(img, "s4");
        Qemu.io(img, "write -P 9 3M 64k");
        Qemu.resize(img, "80M");
        Qemu.snapshot(img, "after-resize");
        Qemu.deleteSnapshot(img, "s0");
        assertCleanLikeQemu(img);
    }

    @Test
    void overlayWithBackingFileIsClean() {
        Path base = create("base.qcow2", "16M", "");
        Qemu.io(base, "write -P 1 0 4M");
        Path overlay = dir.resolve("overlay.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", overlay.toString());
        Qemu.io(overlay, "write -P 2 1M 1M", "write -z 2M 64k");
        Qemu.snapshot(overlay, "s");
        assertCleanLikeQemu(overlay);
        assertCleanLikeQemu(base);
    }

    @Test
    void persistentBitmapsAreCounted() {
        Path img = create("bm.qcow2", "64M", "cluster_size=4096");
        Qemu.img("bitmap", "--add", img.toString(), "b0");
        Qemu.img("bitmap", "--add", "-g", "512", img.toString(), "fine");
        Qemu.io(img, "write -P 1 0 5M", "write -P 2 40M 1M");
        Qemu.img("bitmap", "--add", "--disable", img.toString(), "off");
        assertCleanLikeQemu(img);
    }

    @Test
    void versionTwoImagesAreClean() {
        Path img = create("v2.qcow2", "16M", "compat=0.10");
        Qemu.io(img, "write -P 1 0 2M", "write -c -P 2 4M 64k");
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 3 512k 1M");
        Qemu.snapshot(img, "b");
        assertCleanLikeQemu(img);
    }

    @Test
    void externalDataFileIsClean() {
        Path img = dir.resolve("df.qcow2");
        // An absolute name: qemu-img resolves a relative one against its working directory.
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "data_file=" + dir.resolve("df.raw"), img.toString(), "8M");
        Qemu.io(img, "write -P 1 0 1M", "write -P 2 0x7f0000 64k");
        assertCleanLikeQemu(img);
    }

    @Test
    void emptyAndTinyImagesAreClean() {
        assertCleanLikeQemu(create("empty.qcow2", "0", ""));
        assertCleanLikeQemu(create("one \"quoted\".qcow2", "1M", ""));
        Path odd = create("odd.qcow2", "1000000", "cluster_size=512");
        Qemu.io(odd, "write -P 1 999424 512");
        assertCleanLikeQemu(odd);
    }

    @Test
    void lazyRefcountImagesAreClean() {
        Path img = create("lazy.qcow2", "8M", "lazy_refcounts=on");
        Qemu.io(img, "write -P 1 0 1M");
        Qemu.snapshot(img, "s");
        Qemu.io(img, "write -P 2 0 64k");
        assertCleanLikeQemu(img);
    }

    @Test
    void halfAMillionClustersCheckQuickly() throws IOException {
        Path raw = dir.resolve("ones.raw");
        byte[] mib = new byte[1 << 20];
        java.util.Arrays.fill(mib, (byte) 1);
        try (var out = Files.newOutputStream(raw)) {
            for (int i = 0; i < 256; i++) {
                out.write(mib);
            }
        }
        Path img = dir.resolve("many.qcow2");
        Qemu.img("convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=512", raw.toString(), img.toString());
        Files.delete(raw);
        Qemu.snapshot(img, "s");
        Qemu.io(img, "write -P 2 0 4M");
        long start = System.nanoTime();
        CheckResult ours = ConsistencyCheck.run(img);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(524288, ours.allocatedClusters());
        assertTrue(millis < 20_000, "check took " + millis + " ms");
        assertCleanLikeQemu(img);
    }

    // ---- planted faults -------------------------------------------------------------------

    @Test
    void raisedRefcountIsALeak() {
        Path img = create("leak.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 256k");
        MetadataPoker p = MetadataPoker.of(img);
        long c = p.hostCluster(65536);
        p.setStoredRefcount(c, 2);
        CheckResult r = assertSameAsQemu(img);
        assertEquals(1, r.leaks());
        assertEquals(1, r.corruptions()); // the COPIED flag no longer matches refcount 2
        assertEquals(2, r.exitStatus());
    }

    @Test
    void loweredRefcountIsACorruption() {
        Path img = create("low.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 256k");
        Qemu.snapshot(img, "s");
        MetadataPoker p = MetadataPoker.of(img);
        p.setStoredRefcount(p.hostCluster(0), 1);
        p.setStoredRefcount(p.hostCluster(131072), 0);
        CheckResult r = assertSameAsQemu(img);
        assertEquals(0, r.leaks());
        assertTrue(r.corruptions() >= 2);
    }

    @Test
    void l2TableWithoutRefcount() {
        Path img = create("l2.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 256k");
        MetadataPoker p = MetadataPoker.of(img);
        p.setStoredRefcount(p.l2Cluster(0), 0);
        CheckResult r = assertSameAsQemu(img);
        assertEquals(2, r.corruptions()); // refcount 0 < 1, and the L1 entry's COPIED flag
    }

    @Test
    void leakedWholeClusters() {
        Path img = create("lost.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 256k", "write -P 2 1M 64k", "discard 0 64k");
        MetadataPoker p = MetadataPoker.of(img);
        long end = p.fileSize() / p.clusterSize();
        Poke.setLength(img, (end + 1) * p.clusterSize());
        p.setStoredRefcount(end, 1); // an appended cluster nobody references
        p.setStoredRefcount(end + 5, 3); // past the end of the file: not compared, as in QEMU
        CheckResult r = assertSameAsQemu(img);
        assertEquals(1, r.leaks());
        assertEquals(0, r.corruptions());
        assertEquals(3, r.exitStatus());
    }

    @Test
    void clearedAndSetCopiedFlags() {
        Path img = create("copied.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 512k");
        MetadataPoker p = MetadataPoker.of(img);
        long pos = p.l2EntryPos(65536);
        Poke.u64(img, pos, Poke.readU64(img, pos) & ~L2Entry.COPIED);
        CheckResult r = assertSameAsQemu(img);
        assertEquals(1, r.corruptions());

        Qemu.snapshot(img, "s"); // recomputes the active COPIED flags, repairing the one above
        p = MetadataPoker.of(img);
        long shared = p.l2EntryPos(131072);
        Poke.u64(img, shared, Poke.readU64(img, shared) | L2Entry.COPIED); // shared cluster claims refcount 1
        long l1 = p.l1EntryPos(0);
        Poke.u64(img, l1, Poke.readU64(img, l1) | L2Entry.COPIED);
        assertSameAsQemu(img);
    }

    @Test
    void referencesBeyondTheEndOfTheFile() {
        Path img = create("eof.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 256k");
        MetadataPoker p = MetadataPoker.of(img);
        long pos = p.l2EntryPos(4 * 65536L);
        Poke.u64(img, pos, L2Entry.COPIED | (p.fileSize() + 10 * p.clusterSize()));
        CheckResult r = assertSameAsQemu(img);
        assertEquals(2, r.corruptions());
    }

    @Test
    void malformedEntries() {
        Path img = create("bits.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 256k", "write -c -P 2 1M 64k");
        MetadataPoker p = MetadataPoker.of(img);
        long pos = p.l2EntryPos(0);
        Poke.u64(img, pos, Poke.readU64(img, pos) | 0x100); // reserved bit 8
        long c = p.l2EntryPos(1 << 20);
        Poke.u64(img, c, Poke.readU64(img, c) | L2Entry.COPIED); // COPIED on a compressed cluster
        long unaligned = p.l2EntryPos(2 * 65536L);
        Poke.u64(img, unaligned, Poke.readU64(img, unaligned) | 0x1000); // inside a cluster
        long reftable = p.header().refcountTableOffset();
        Poke.u64(img, reftable + 8, 0x3); // a table entry with only reserved bits
        assertSameAsQemu(img);
    }

    @Test
    void misplacedRefcountBlocks() {
        Path img = create("refblock.qcow2", "8M", "cluster_size=4096");
        Qemu.io(img, "write -P 1 0 256k");
        MetadataPoker p = MetadataPoker.of(img);
        long reftable = p.header().refcountTableOffset();
        Poke.u64(img, reftable + 16, p.fileSize() + 40 * p.clusterSize()); // a block outside the image
        Poke.u64(img, reftable + 24, Poke.readU64(img, reftable)); // the same block twice
        assertSameAsQemu(img);
    }

    @Test
    void misalignedRefcountBlockMakesEveryClusterUnreadable() {
        Path img = create("misaligned.qcow2", "8M", "cluster_size=4096");
        Qemu.io(img, "write -P 1 0 64k");
        MetadataPoker p = MetadataPoker.of(img);
        long reftable = p.header().refcountTableOffset();
        Poke.u64(img, reftable, Poke.readU64(img, reftable) + 512);
        CheckResult r = assertSameAsQemu(img);
        assertTrue(r.checkErrors() > 0);
        assertEquals(1, r.exitStatus());
    }

    @Test
    void incompleteVersion3SnapshotEntry() throws IOException {
        Path img = create("inc.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 64k");
        Qemu.snapshot(img, "s");
        SnapshotEntryPoker.of(img).shortenExtraData(0, 8); // no disk size: incomplete in version 3
        CheckResult r = assertSameAsQemu(img);
        assertEquals(1, r.corruptions());
    }

    @Test
    void snapshotL1TableOutOfPlace() {
        Path img = create("snl1.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 64k");
        Qemu.snapshot(img, "one");
        Qemu.snapshot(img, "two");
        MetadataPoker p = MetadataPoker.of(img);
        long table = p.header().snapshotsOffset();
        Poke.u64(img, table, Poke.readU64(img, table) + 512); // first entry's L1 offset misaligned
        CheckResult r = assertSameAsQemu(img);
        assertTrue(r.corruptions() > 0 && r.leaks() > 0, CheckReport.messages(r));
    }

    @Test
    void refcountOverflowInANarrowWidth() {
        Path img = create("narrow.qcow2", "8M", "refcount_bits=2,cluster_size=4096");
        Qemu.io(img, "write -P 1 0 64k");
        Qemu.snapshot(img, "a");
        Qemu.snapshot(img, "b");
        MetadataPoker p = MetadataPoker.of(img);
        // A third snapshot entry pointing at the same L1 table as "a": four references to each
        // data cluster, one more than 2 bits hold.
        long table = p.header().snapshotsOffset();
        // The table's cluster, zeros past the end of the file (the last entry's padding may lie there).
        byte[] all = java.util.Arrays.copyOf(Poke.readBytes(img, table, (int) Math.min(p.clusterSize(),
                p.fileSize() - table)), (int) p.clusterSize());
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(all);
        int extra = b.getInt(36);
        int id = b.getShort(12) & 0xffff;
        int name = b.getShort(14) & 0xffff;
        long firstLength = (40 + extra + id + name + 7) & ~7;
        int secondLength = (40 + b.getInt((int) firstLength + 36) + (b.getShort((int) firstLength + 12) & 0xffff)
                + (b.getShort((int) firstLength + 14) & 0xffff) + 7) & ~7;
        long newTable = alignUp(p.fileSize(), p.clusterSize());
        byte[] copy = new byte[(int) (firstLength * 2 + secondLength)];
        System.arraycopy(all, 0, copy, 0, (int) (firstLength + secondLength));
        System.arraycopy(all, 0, copy, (int) (firstLength + secondLength), (int) firstLength);
        Poke.setLength(img, newTable + p.clusterSize());
        Poke.bytes(img, newTable, copy);
        Poke.u64(img, 64, newTable); // snapshots_offset
        byte[] nb = {0, 0, 0, 3};
        Poke.bytes(img, 60, nb);
        CheckResult r = assertSameAsQemu(img);
        assertTrue(r.corruptions() > 0);
    }

    @Test
    void dirtyLazyRefcountImageLeftByACrash() {
        Path img = create("dirty.qcow2", "8M", "lazy_refcounts=on");
        Qemu.io(img, "write -P 1 0 1M");
        Processes.Output crash = Qemu.run(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 2 2M 1M", "-c",
                "write -P 3 0 64k", "-c", "abort", img.toString()));
        assertTrue(crash.exitCode() != 0, "qemu-io abort should die");
        CheckResult r = assertSameAsQemu(img); // refcounts were never written: corruptions
        assertTrue(r.corruptions() > 0);
    }

    // ---- seeded random images ---------------------------------------------------------------

    static IntStream seeds() {
        return IntStream.range(0, 32);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void randomImagesMatchQemu(int seed) {
        Random r = new Random(seed * 7919L + 17);
        RandomImage image = RandomImage.build(dir, r);
        assertCleanLikeQemu(image.path());
        if (seed % 2 == 1) {
            int planted = image.plantFaults(r);
            CheckResult result = assertSameAsQemu(image.path());
            assertTrue(planted == 0 || !result.isClean(), image.recipe() + "\n" + CheckReport.human(result));
        }
    }

    // ---- refusals ---------------------------------------------------------------------------

    @Test
    void notAQcow2ImageIsRefused() throws IOException {
        Path raw = dir.resolve("x.raw");
        Files.write(raw, new byte[4096]);
        ImageException e = assertThrows(ImageException.class, () -> ConsistencyCheck.run(raw));
        assertTrue(e.getMessage().startsWith("x.raw: "), e.getMessage());
    }

    @Test
    void snapshotTableBeyondTheEndOfTheFile() {
        Path img = create("far.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 64k");
        Qemu.snapshot(img, "s");
        MetadataPoker p = MetadataPoker.of(img);
        Poke.u64(img, 64, alignUp(p.fileSize(), p.clusterSize()) + 65536); // snapshots_offset
        // QEMU reads zeros there: an empty, incomplete entry whose table lies past the end.
        CheckResult r = assertSameAsQemu(img);
        assertEquals(2, r.corruptions());
    }

    @Test
    void unreadableSnapshotTableStopsTheCheck() {
        Path img = create("extra.qcow2", "8M", "");
        Qemu.io(img, "write -P 1 0 64k");
        Qemu.snapshot(img, "s");
        MetadataPoker p = MetadataPoker.of(img);
        long table = p.header().snapshotsOffset();
        Poke.u64(img, table + 32, (Poke.readU64(img, table + 32) & 0xffffffff00000000L) | 2000); // extra_data_size
        CheckResult r = ConsistencyCheck.run(img);
        assertFalse(r.complete());
        assertEquals(1, r.exitStatus());
        assertTrue(r.failure().startsWith("extra.qcow2: "), r.failure());
        Processes.Output q = Qemu.run(List.of("qemu-img", "check", img.toString()));
        assertEquals(1, q.exitCode(), q.stdout() + q.stderr());
        assertEquals(q.stdout(), CheckReport.human(r));
    }

    @Test
    void absurdlyLargeFileIsRefusedClearly() {
        Path img = create("huge.qcow2", "1M", "cluster_size=512");
        Poke.setLength(img, 1200L << 30); // sparse: 2.5 billion clusters of 512 bytes
        CheckResult r = ConsistencyCheck.run(img);
        assertFalse(r.complete());
        assertEquals(1, r.exitStatus());
        assertTrue(r.failure().startsWith("huge.qcow2: the file holds 2516582400 clusters of 512 bytes"),
                r.failure());
        Processes.Output q = Qemu.run(List.of("qemu-img", "check", img.toString()));
        assertEquals(1, q.exitCode(), q.stdout() + q.stderr());
    }

    private static long alignUp(long v, long alignment) {
        return (v + alignment - 1) / alignment * alignment;
    }
}
