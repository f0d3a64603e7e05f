package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.SnapshotEntryPoker;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Proves that every snapshot and the active layer of images made by qemu-img/qemu-io read through
 * the engine exactly as {@code qemu-img convert} writes them, for every image feature that changes
 * how a guest byte is found: versions, cluster sizes, refcount widths, compression (also across
 * host clusters), extended L2, zero clusters, discards, backing chains, external data files,
 * resizes, odd snapshot names and VM state.
 */
class ReadOracleTest {
    private static final int K = 1024;
    private static final int M = 1024 * 1024;

    @TempDir
    Path dir;

    /**
     * A workload that touches every kind of L2 entry a plain image can hold, at offsets scaled to
     * the cluster size {@code c} of a disk of {@code size} bytes (at least 8 clusters), with a
     * snapshot between phases when {@code snapshots} is set. Compressed writes go only where
     * nothing is mapped (qemu-io fails them otherwise).
     */
    private void workload(Path img, long size, int c, boolean snapshots) {
        workload(img, size, c, snapshots, true);
    }

    /** The workload; without {@code compressed} the compressed writes are plain writes. */
    private void workload(Path img, long size, int c, boolean snapshots, boolean compressed) {
        long half = size / 2;
        String w = compressed ? "write -c" : "write";
        Qemu.io(img,
                "write -P 0x11 0 " + (3L * c + 100),
                "write -P 0x12 " + (half - 777) + " 70000",
                "write -P 0x13 " + (size - 5000) + " 5000",
                w + " -P 0x14 " + (size * 5 / 8 / c * c) + " " + (2L * c));
        if (snapshots) {
            Qemu.snapshot(img, "phase1");
        }
        Qemu.io(img,
                "write -P 0x21 " + (c / 2) + " " + c,
                "write -z " + half + " " + (2L * c),
                "discard 0 " + c,
                "write -z -u " + (4L * c) + " " + c,
                "write -P 0x22 " + (size / 4 + 3) + " 100000",
                // 2M clusters have no fresh cluster left, but 4c was just unmapped (v3 only).
                w + " -P 0x23 " + (c >= M ? 4L * c : size * 7 / 8 / c * c) + " " + c);
        if (snapshots) {
            Qemu.snapshot(img, "phase2");
        }
        Qemu.io(img,
                "write -P 0x31 " + (c + 1) + " " + (size / 8),
                "discard " + (half - 4096) + " " + (4L * c),
                "write -P 0x32 " + (size - c - 1) + " 1");
        if (snapshots) {
            Qemu.snapshot(img, "phase3");
            Qemu.io(img, "write -P 0x41 " + (5L * c - 10) + " 20", "write -z " + (size - c) + " " + c);
        }
    }

    private static long diskSizeFor(int clusterSize) {
        return Math.max(6L * M, 8L * clusterSize);
    }

    @ParameterizedTest(name = "cluster_size={0}")
    @ValueSource(ints = {512, 4096, 65536, 2 * M})
    void clusterSizes(int clusterSize) {
        long size = diskSizeFor(clusterSize);
        Path img = Qemu.create(dir.resolve("cs.qcow2"), Long.toString(size), "cluster_size=" + clusterSize);
        workload(img, size, clusterSize, true);
        Oracle.assertClean(img);
        assertEquals(3, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    @ParameterizedTest(name = "compat=0.10 cluster_size={0}")
    @ValueSource(ints = {512, 4096, 65536})
    void version2Images(int clusterSize) {
        long size = diskSizeFor(clusterSize);
        Path img = Qemu.create(dir.resolve("v2.qcow2"), Long.toString(size), "compat=0.10,cluster_size=" + clusterSize);
        workload(img, size, clusterSize, true);
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(2, qi.header().version());
        }
        Oracle.assertClean(img);
        assertEquals(3, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    @Test
    void version2ImageOverBacking() {
        Path base = Qemu.create(dir.resolve("base.qcow2"), "4M", "compat=0.10");
        Qemu.io(base, "write -P 0x77 0 4M");
        Path img = dir.resolve("v2top.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.qcow2", "-F", "qcow2",
                img.toString(), "4M");
        workload(img, 4L * M, 65536, true);
        Oracle.assertClean(img);
        assertEquals(3, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    @ParameterizedTest(name = "refcount_bits={0}")
    @ValueSource(ints = {4, 8, 16, 32, 64})
    void refcountWidths(int bits) {
        long size = 4L * M;
        Path img = Qemu.create(dir.resolve("rc.qcow2"), "4M", "refcount_bits=" + bits + ",cluster_size=4096");
        workload(img, size, 4096, true);
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(bits, qi.header().refcountBits());
        }
        Oracle.assertClean(img);
        assertEquals(3, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /**
     * With 2-bit refcounts a cluster can be shared by at most 3 tables, and compressed clusters
     * sharing a host cluster count once each: two snapshots of plain writes fit, a third does not.
     */
    @Test
    void twoBitRefcounts() {
        Path img = Qemu.create(dir.resolve("rc2.qcow2"), "4M", "refcount_bits=2,cluster_size=4096");
        Qemu.io(img, "write -P 0x11 0 1M", "write -P 0x12 3M 100k");
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 0x21 512k 1M", "write -z 3M 8k", "discard 3100k 8k");
        Qemu.snapshot(img, "b");
        Qemu.io(img, "write -P 0x31 0 4k");
        Oracle.assertClean(img);
        // QEMU's failed attempt leaks a few clusters; the image still reads the same.
        Processes.Output r = Qemu.run(List.of("qemu-img", "snapshot", "-c", "c", img.toString()));
        assertNotEquals(0, r.exitCode(), "a third snapshot would need a refcount of 4");
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /**
     * With 1-bit refcounts qemu-img refuses to create a snapshot (a shared cluster would need a
     * refcount of 2), so the active layer is compared; then an image that does hold a snapshot is
     * made by overwriting every shared cluster (all refcounts back to 1) and amending the width.
     */
    @Test
    void oneBitRefcounts() {
        Path img = Qemu.create(dir.resolve("rc1.qcow2"), "4M", "refcount_bits=1,cluster_size=4096");
        Qemu.io(img, "write -P 0x11 0 1M");
        Processes.Output r = Qemu.run(List.of("qemu-img", "snapshot", "-c", "s", img.toString()));
        assertNotEquals(0, r.exitCode(), "qemu-img is expected to refuse snapshots with 1-bit refcounts");
        // Compressed clusters share host clusters, which 1-bit refcounts cannot count: no -c here.
        workload(img, 4L * M, 4096, false, false);
        assertEquals(0, Oracle.assertImageMatchesQemu(Ours::open, img, dir));

        Path amended = Qemu.create(dir.resolve("rc1snap.qcow2"), "4M", "cluster_size=4096");
        Qemu.io(amended, "write -P 0x21 0 1M", "write -c -P 0x22 2M 4k", "write -P 0x23 3M 5000");
        Qemu.snapshot(amended, "old");
        // Rewrite every cluster the snapshot shares, so nothing has a refcount above 1.
        Qemu.io(amended, "write -P 0x31 0 1M", "write -P 0x32 2M 64k", "write -P 0x33 3M 8k");
        Qemu.img("amend", "-o", "refcount_bits=1", amended.toString());
        Oracle.assertClean(amended);
        try (QcowImage qi = QcowImage.open(amended)) {
            assertEquals(1, qi.header().refcountBits());
            assertEquals(1, qi.snapshots().size());
        }
        assertEquals(1, Oracle.assertImageMatchesQemu(Ours::open, amended, dir));
    }

    static Stream<Arguments> compressionCases() {
        List<Arguments> out = new ArrayList<>();
        for (String type : List.of("zlib", "zstd")) {
            for (int cs : List.of(512, 4096, 65536, 2 * M)) {
                out.add(Arguments.of(type, cs));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} cluster_size={1}")
    @MethodSource("compressionCases")
    void compressedClusters(String type, int clusterSize) {
        long size = clusterSize == 2 * M ? 16L * M : 4L * M;
        int run = clusterSize == 2 * M ? 2 * clusterSize : (int) Math.min(256L * clusterSize, 512 * K);
        Path img = Qemu.create(dir.resolve("z.qcow2"), Long.toString(size),
                "cluster_size=" + clusterSize + ",compression_type=" + type);
        Path n1 = Bytes.noiseFile(dir, "n1", run, 1);
        Path n2 = Bytes.noiseFile(dir, "n2", run, 2);
        Path n3 = Bytes.noiseFile(dir, "n3", run, 3);
        // qemu-io can only write compressed clusters where nothing is allocated: fresh ranges, or
        // ranges discarded first.
        Qemu.io(img,
                "write -c -s " + n1 + " 0 " + run,
                "write -c -P 0x5c " + run + " " + (2L * clusterSize),
                "write -P 0x11 " + (size - clusterSize - 300) + " 600");
        Qemu.snapshot(img, "one");
        long mid = run / 2 / clusterSize * clusterSize;
        Qemu.io(img,
                "write -c -s " + n2 + " " + (2L * run) + " " + run,
                "write -P 0x22 " + (clusterSize / 2 + 7) + " " + (clusterSize + 5),
                "discard " + mid + " " + clusterSize,
                "write -c -s " + n3 + " " + mid + " " + clusterSize);
        Qemu.snapshot(img, "two");
        Qemu.io(img, "write -z " + run + " " + clusterSize, "discard 0 " + clusterSize,
                "write -c -s " + n3 + " 0 " + clusterSize);
        Oracle.assertClean(img);

        TableWalk walk = TableWalk.of(img);
        long crossing = walk.compressedEntries().stream().filter(e -> e.crossesCluster(walk.clusterBits)).count();
        assertTrue(crossing > 0, "no compressed range crosses a host cluster boundary; the test proves nothing");
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(type.equals("zstd") ? 1 : 0, qi.header().compressionType());
        }
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    static Stream<Arguments> extendedL2Cases() {
        return Stream.of(Arguments.of(16 * K, "zlib"), Arguments.of(65536, "zlib"), Arguments.of(65536, "zstd"),
                Arguments.of(2 * M, "zlib"));
    }

    /**
     * Extended L2 over a backing file that is smaller than the overlay: writes smaller than a
     * subcluster, zero writes, discards and unmaps at subcluster and cluster granularity, and
     * compressed clusters (whose bitmap is ignored).
     */
    @ParameterizedTest(name = "extended_l2 cluster_size={0} {1}")
    @MethodSource("extendedL2Cases")
    void extendedL2(int c, String compression) {
        int sc = c / 32;
        long size = Math.max(4L * M, 8L * c);
        long baseSize = size - c / 2 - 512;
        Path base = Qemu.create(dir.resolve("base.qcow2"), Long.toString(baseSize), "cluster_size=65536");
        Path noise = Bytes.noiseFile(dir, "noise", (int) baseSize, 7);
        Qemu.io(base, "write -s " + noise + " 0 " + baseSize);
        Path img = dir.resolve("xl2.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o",
                "extended_l2=on,cluster_size=" + c + ",compression_type=" + compression,
                "-b", "base.qcow2", "-F", "qcow2", img.toString(), Long.toString(size));
        Qemu.io(img,
                "write -P 0x41 " + (sc / 4) + " 100",
                "write -P 0x42 " + (3L * sc - 10) + " 20",
                "write -z " + (5L * sc) + " " + sc,
                "write -z " + (7L * sc + 100) + " 300",
                "write -P 0x43 " + (c + 5) + " " + (2L * sc),
                "write -P 0x44 " + (c + 4L * sc) + " " + (3L * sc),
                "discard " + (c + 4L * sc) + " " + sc,
                "discard " + (2L * c) + " " + c,
                "write -z -u " + (3L * c) + " " + c,
                "write -P 0x45 " + (4L * c) + " " + (6L * sc),
                "write -z -u " + (4L * c + 2L * sc) + " " + (2L * sc),
                "write -c -P 0x46 " + (5L * c) + " " + c,
                "write -P 0x47 " + (size - 3L * sc / 2) + " 700");
        Qemu.snapshot(img, "s1");
        Qemu.io(img,
                "write -P 0x51 " + (sc / 2) + " 10",
                "write -z " + (c + sc) + " " + (2L * sc),
                "discard " + (4L * c) + " " + c,
                "write -P 0x52 " + (5L * c + 31L * sc) + " 100",
                "write -P 0x53 " + (size - c + 1) + " 3");
        Qemu.snapshot(img, "s2");
        Qemu.io(img, "write -P 0x61 " + (6L * c + sc - 1) + " 2", "write -z -u 0 " + c);
        Oracle.assertClean(img);
        try (QcowImage qi = QcowImage.open(img)) {
            assertTrue(qi.header().hasExtendedL2());
        }
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /** Zero clusters (allocated and unmapped) and discards, with and without a backing file. */
    @ParameterizedTest(name = "backing={0}")
    @ValueSource(booleans = {false, true})
    void zeroClustersAndDiscards(boolean backing) {
        Path img = dir.resolve("zero.qcow2");
        if (backing) {
            Path base = Qemu.create(dir.resolve("zb.qcow2"), "4M", "");
            Qemu.io(base, "write -P 0x99 0 4M");
            Qemu.img("create", "-q", "-f", "qcow2", "-b", "zb.qcow2", "-F", "qcow2", img.toString(), "4M");
        } else {
            Qemu.create(img, "4M", "");
        }
        Qemu.io(img, "write -P 0x11 0 2M", "write -c -P 0x12 2M 128k");
        Qemu.snapshot(img, "data");
        Qemu.io(img,
                "write -z 0 128k",
                "write -z -u 128k 128k",
                "discard 256k 128k",
                "discard 400k 1000",
                "write -z 600k 1000",
                "write -z -u 2M 64k",
                "discard 2112k 64k",
                "write -z 3M 64k",
                "discard 3200k 64k");
        Qemu.snapshot(img, "zeroed");
        Qemu.io(img, "write -P 0x21 64k 4k", "write -P 0x22 192k 4k", "write -P 0x23 3M 1");
        Oracle.assertClean(img);
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /** Persistent dirty bitmaps (a header extension, bitmap tables and data clusters) change nothing. */
    @Test
    void persistentDirtyBitmaps() {
        Path img = Qemu.create(dir.resolve("bm.qcow2"), "4M", "cluster_size=4096");
        Qemu.io(img, "write -P 0x11 0 1M");
        Qemu.img("bitmap", "--add", img.toString(), "bm0");
        Qemu.io(img, "write -P 0x12 2M 64k");
        Qemu.snapshot(img, "s1");
        Qemu.img("bitmap", "--add", "-g", "65536", img.toString(), "bm1");
        Qemu.io(img, "write -P 0x13 512k 1M", "write -z 3M 8k");
        Qemu.snapshot(img, "s2");
        Qemu.io(img, "write -P 0x14 100k 1");
        Oracle.assertClean(img);
        assertTrue(Qemu.img("info", img.toString()).contains("bm1"));
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /** A dirty image (lazy refcounts, QEMU killed) reads like QEMU reads it read-only. */
    @Test
    void dirtyLazyRefcountImage() {
        Path img = Qemu.create(dir.resolve("dirty.qcow2"), "2M", "lazy_refcounts=on");
        Qemu.io(img, "write -P 0x11 0 1M");
        Qemu.snapshot(img, "s");
        Processes.Output r = Qemu.run(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 4k", "-c",
                "write -P 0x33 1536k 4k", "-c", "abort", img.toString()));
        assertNotEquals(0, r.exitCode());
        try (QcowImage qi = QcowImage.open(img)) {
            assertTrue(qi.header().isDirty(), "the image should be left dirty");
        }
        assertEquals(1, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /**
     * A chain raw <- qcow2 <- qcow2 <- qcow2, each layer larger than the one below, with relative
     * backing names across directories; read through a path with ".." in it.
     */
    @Test
    void backingChainOfDepthFour() throws IOException {
        Path l1 = Files.createDirectories(dir.resolve("l1"));
        Path l2 = Files.createDirectories(l1.resolve("l2"));
        // A raw base whose length is not a multiple of 512.
        byte[] baseBytes = Bytes.noise(M + 300, 11);
        Files.write(dir.resolve("base.raw"), baseBytes);
        Path mid1 = l1.resolve("mid1.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "../base.raw", "-F", "raw",
                mid1.toString(), "2M");
        Qemu.io(mid1, "write -P 0x21 4k 8k", "write -P 0x22 1000k 100k", "write -z 500k 4k");
        Path mid2 = l1.resolve("mid2.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", "mid1.qcow2", "-F", "qcow2",
                mid2.toString(), "3M");
        Qemu.io(mid2, "write -P 0x31 6k 1k", "write -P 0x32 1800k 300k", "write -z -u 1010k 10k");
        Qemu.snapshot(mid2, "inner"); // a snapshot inside a backing file plays no part
        Qemu.io(mid2, "write -P 0x33 0 512");
        Path top = l2.resolve("top.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", "-b", "../mid2.qcow2", "-F", "qcow2",
                top.toString(), "5M");
        Qemu.io(top, "write -P 0x41 64k 64k", "write -P 0x42 2900k 300k");
        Qemu.snapshot(top, "t1");
        Qemu.io(top, "write -P 0x43 0 100", "write -z 1M 64k", "discard 1984k 128k", "write -P 0x44 4M 1M");
        Qemu.snapshot(top, "t2");
        Qemu.io(top, "write -P 0x45 1000k 8k");

        assertTrue(Qemu.img("info", top.toString()).contains("backing file: ../mid2.qcow2"));
        Path viaDots = l2.resolve("..").resolve("l2").resolve("top.qcow2");
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, viaDots, dir));
        try (QcowImage qi = QcowImage.open(viaDots)) {
            BackingChain.Backing b = qi.backing();
            int depth = 0;
            while (b != null) {
                depth++;
                b = b.image() == null ? null : b.image().backing();
            }
            assertEquals(3, depth, "backing files below the top image");
            assertEquals("raw", qi.backing().image().backing().image().backing().format());
            // Each lower layer's active view on its own as well.
            Oracle.assertReads(Qemu.activeBytes(mid2, dir), Ours.disk(qi.backing().source()), "mid2 as backing");
            Oracle.assertReads(Qemu.activeBytes(mid1, dir), Ours.disk(qi.backing().image().backing().source()),
                    "mid1 as backing");
        }
        assertEquals(1, Oracle.assertImageMatchesQemu(Ours::open, mid2, dir));
        assertEquals(0, Oracle.assertImageMatchesQemu(Ours::open, mid1, dir));
    }

    /**
     * Two traps of backing file lookup: an image opened through a symlink in another directory
     * finds a relative backing name next to the symlink (QEMU combines the name with the path it
     * was given, not the link's target); and a backing format of "raw" in the header is obeyed
     * even when the backing file is a qcow2 image (its metadata is then read as guest data).
     */
    @Test
    void backingLookupThroughSymlinkAndForcedRawFormat() throws IOException {
        Path real = Files.createDirectories(dir.resolve("real"));
        Path link = Files.createDirectories(dir.resolve("link"));
        Qemu.io(Qemu.create(real.resolve("base.qcow2"), "1M", ""), "write -P 0x11 0 1M");
        Qemu.io(Qemu.create(link.resolve("base.qcow2"), "1M", ""), "write -P 0x22 0 1M");
        Path top = real.resolve("top.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top.toString(), "1M");
        Qemu.io(top, "write -P 0x33 64k 64k");
        Qemu.snapshot(top, "s");
        Path viaLink = Files.createSymbolicLink(link.resolve("top.qcow2"), Path.of("../real/top.qcow2"));
        byte[] expected = Qemu.activeBytes(viaLink, dir);
        assertEquals(0x22, expected[0], "QEMU takes the backing file next to the symlink");
        assertEquals(1, Oracle.assertImageMatchesQemu(Ours::open, viaLink, dir));
        assertEquals(1, Oracle.assertImageMatchesQemu(Ours::open, top, dir));

        Path forced = real.resolve("forced.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "raw", forced.toString(), "2M");
        Qemu.io(forced, "write -P 0x44 1M 4k");
        Qemu.snapshot(forced, "s");
        try (QcowImage qi = QcowImage.open(forced)) {
            assertEquals("raw", qi.backing().format());
        }
        assertEquals(1, Oracle.assertImageMatchesQemu(Ours::open, forced, dir));
    }

    /**
     * A snapshot of a 0-byte disk has no L1 table at all (offset 0, size 0); it is an empty disk,
     * and QEMU, reading it at the grown image's size, finds nothing but zeros in it.
     */
    @Test
    void snapshotOfAnEmptyDisk() {
        Path img = Qemu.create(dir.resolve("empty.qcow2"), "0", "");
        Qemu.snapshot(img, "nothing");
        Qemu.resize(img, "1M");
        Qemu.io(img, "write -P 0x11 0 64k");
        Qemu.snapshot(img, "something");
        try (QcowImage qi = QcowImage.open(img)) {
            SnapshotEntry empty = qi.findSnapshot("nothing");
            assertEquals(0, empty.l1Size());
            Qcow2View v = qi.snapshotView(empty);
            assertEquals(0, v.size());
            assertEquals(0, Oracle.read(Ours.disk(v), 0, ByteBuffer.allocate(10)));
            assertArrayEquals(new byte[M], Qemu.snapshotBytes(img, empty.idString(), dir));
            SnapshotEntry full = qi.findSnapshot("something");
            Oracle.assertReads(Qemu.snapshotBytes(img, full.idString(), dir), Ours.disk(qi.snapshotView(full)),
                    "something");
        }
    }

    /** A backing chain that loops back (made with rebase -u) is refused; QEMU cannot open it either. */
    @Test
    void backingLoopIsRefused() {
        Path a = Qemu.create(dir.resolve("a.qcow2"), "1M", "");
        Path b = dir.resolve("b.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b.toString(), "1M");
        Qemu.img("rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", a.toString());
        // QEMU 7.2 has no loop check: it opens the chain until it runs out of file descriptors,
        // which with the default limit takes minutes. A limit of 64 makes it give up at once.
        Processes.Output r = Qemu.run(List.of("sh", "-c", "ulimit -n 64; exec qemu-img convert -O raw \"$0\" \"$1\"",
                b.toString(), dir.resolve("o.raw").toString()));
        assertNotEquals(0, r.exitCode());
        ImageException e = assertThrows(ImageException.class, () -> QcowImage.open(b).close());
        assertTrue(e.getMessage().contains("loop"), e.getMessage());
    }

    /**
     * External data files, with and without data_file_raw, named absolutely and relatively.
     * QEMU refuses internal snapshots on such images, so the active layer is compared. QEMU 7.2
     * resolves a relative data file name against its working directory, so the relative case runs
     * QEMU from the image's directory.
     */
    @ParameterizedTest(name = "data_file_raw={0} relative={1}")
    @MethodSource("dataFileCases")
    void externalDataFile(boolean raw, boolean relative) {
        Path sub = dir.resolve("sub");
        try {
            Files.createDirectories(sub);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String dataName = relative ? "data.raw" : sub.resolve("data.raw").toString();
        Qemu.okIn(sub, "qemu-img", "create", "-q", "-f", "qcow2", "-o",
                "data_file=" + dataName + ",data_file_raw=" + (raw ? "on" : "off") + ",cluster_size=4096",
                "img.qcow2", "3M");
        Qemu.okIn(sub, "qemu-io", "-f", "qcow2",
                "-c", "write -P 0x11 0 5000",
                "-c", "write -P 0x12 100k 200k",
                "-c", "write -z 150k 8k",
                "-c", "write -z -u 200k 8k",
                "-c", "discard 256k 4k",
                "-c", "write -P 0x13 " + (3 * M - 700) + " 700",
                "-c", "write -P 0x14 2M 4k",
                "-c", "discard 2M 4k",
                "img.qcow2");
        Path img = sub.resolve("img.qcow2");
        Processes.Output snap = Qemu.runIn(sub, List.of("qemu-img", "snapshot", "-c", "s", "img.qcow2"));
        assertNotEquals(0, snap.exitCode(), "QEMU is expected to refuse internal snapshots with a data file");
        Path out = sub.resolve("expected.raw");
        Qemu.okIn(sub, "qemu-img", "convert", "-O", "raw", "img.qcow2", "expected.raw");
        byte[] expected = Bytes.readFile(out);
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(sub.resolve("data.raw").toAbsolutePath(), qi.dataFilePath().toAbsolutePath());
            Oracle.assertReads(expected, Ours.disk(qi.activeView()), "data file image active layer");
        }
    }

    /**
     * An external data file over a backing file: host offset 0 is a real data cluster (told apart
     * from "unallocated" by the COPIED flag), unallocated clusters and subclusters fall through to
     * the backing file, zero flags hide it.
     */
    @ParameterizedTest(name = "extended_l2={0}")
    @ValueSource(booleans = {false, true})
    void externalDataFileOverBacking(boolean extendedL2) {
        Path base = Qemu.create(dir.resolve("base.qcow2"), "3M", "");
        Qemu.io(base, "write -P 0x55 0 3M");
        Path img = dir.resolve("df.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "data_file=" + dir.resolve("df.data")
                + (extendedL2 ? ",extended_l2=on,cluster_size=65536" : ",cluster_size=4096"),
                "-b", "base.qcow2", "-F", "qcow2", img.toString(), "3M");
        Qemu.io(img, "write -P 0x11 0 512", "write -P 0x12 6000 100", "write -z 8k 4k", "discard 16k 4k",
                "write -z -u 24k 4k", "write -P 0x13 1M 5000", "write -z 1M 4k", "discard 2M 8k",
                "write -P 0x14 " + (3 * M - 10) + " 10");
        Oracle.assertClean(img);
        try (QcowImage qi = QcowImage.open(img)) {
            Oracle.assertReads(Qemu.activeBytes(img, dir), Ours.disk(qi.activeView()), "data file over backing");
        }
    }

    static Stream<Arguments> dataFileCases() {
        return Stream.of(Arguments.of(false, false), Arguments.of(true, false), Arguments.of(false, true),
                Arguments.of(true, true));
    }

    /**
     * After {@code qemu-img resize} (bigger, then smaller with --shrink), each snapshot keeps its
     * own disk size and L1 size. {@code qemu-img convert -l} reads a snapshot at the image's
     * current size, so the full expected contents come from reverting a copy to the snapshot
     * ({@code qemu-img snapshot -a}, which in 7.2 also restores the size), and the convert output
     * must agree with the engine on the bytes both have.
     */
    @ParameterizedTest(name = "cluster_size={0}")
    @ValueSource(ints = {512, 65536})
    void resizeAfterSnapshot(int c) {
        Path img = Qemu.create(dir.resolve("rs.qcow2"), "4M", "cluster_size=" + c);
        Qemu.io(img, "write -P 0x11 0 4M", "write -z 1M 64k");
        Qemu.snapshot(img, "at4M");
        Qemu.resize(img, "9M");
        Qemu.io(img, "write -P 0x22 3M 6M");
        Qemu.snapshot(img, "at9M");
        Qemu.resize(img, "2M");
        Qemu.io(img, "write -P 0x33 1M 512");
        Qemu.snapshot(img, "at2M");
        Qemu.resize(img, "3M");
        Qemu.io(img, "write -P 0x44 2M 4k");
        Oracle.assertClean(img);

        Map<String, Long> sizes = Map.of("at4M", 4L * M, "at9M", 9L * M, "at2M", 2L * M);
        try (QcowImage qi = QcowImage.open(img)) {
            assertEquals(3L * M, qi.header().size());
            for (SnapshotEntry s : qi.snapshots()) {
                Qcow2View view = qi.snapshotView(s);
                assertEquals((long) sizes.get(s.nameString()), view.size(), s.nameString() + " disk size");
                long entries = qi.header().l1EntriesFor(view.size());
                assertTrue(view.l1Size() >= entries, s.nameString() + " own l1_size");
                // Full expected bytes: revert a copy to the snapshot, then convert its active layer.
                Path copy = dir.resolve("copy-" + s.idString() + ".qcow2");
                try {
                    Files.copy(img, copy, StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                Qemu.applySnapshot(copy, s.idString());
                byte[] reverted = Qemu.activeBytes(copy, dir);
                assertEquals(view.size(), reverted.length, "qemu-img snapshot -a restores the disk size");
                Oracle.assertReads(reverted, Ours.disk(view), s.nameString());
                // qemu-img convert -l: the image's current size, same bytes where both exist.
                byte[] converted = Qemu.snapshotBytes(img, s.idString(), dir);
                assertEquals(qi.header().size(), converted.length);
                int common = (int) Math.min(converted.length, view.size());
                Bytes.assertSameBytes(Arrays.copyOf(converted, common), Oracle.readRange(Ours.disk(view), 0, common),
                        s.nameString() + " against qemu-img convert -l");
                for (int i = common; i < converted.length; i++) {
                    if (converted[i] != 0) {
                        fail("qemu-img convert -l reads non-zero past the snapshot's disk at " + i);
                    }
                }
            }
            Oracle.assertReads(Qemu.activeBytes(img, dir), Ours.disk(qi.activeView()), "active after resizes");
        }
    }

    /**
     * Snapshot lookup by ID or name matches {@code qemu-img convert -l X} (ID first, then the first
     * name in table order), also for duplicate names, names that look like IDs, spaces, UTF-8,
     * long names (qemu-img cuts names at 255 bytes) and the empty name; and {@code -l
     * snapshot.name=X} / {@code snapshot.id=X} match findByName / findById.
     */
    @Test
    void snapshotNamesAndLookup() throws IOException {
        Path img = Qemu.create(dir.resolve("names.qcow2"), "1M", "cluster_size=4096");
        String long250 = "L".repeat(200) + "é".repeat(25); // 250 bytes
        String long300 = "x".repeat(300);
        List<String> names = List.of("dup", "dup", "1", "with space  and\ttab", "ünïcødé ✓ 快照", long250,
                long300, "7", "", "2 ", "-l");
        Map<String, Path> nameFiles = new LinkedHashMap<>();
        int i = 0;
        for (String n : names) {
            i++;
            Qemu.io(img, "write -P " + (0x10 + i) + " 0 64k", "write -P " + (0x80 + i) + " " + (i * 8 * K) + " 4k");
            Path f = dir.resolve("name" + i);
            Files.write(f, n.getBytes(StandardCharsets.UTF_8));
            nameFiles.put(n, f);
            Processes.Output r = Qemu.imgWithFileArgs("snapshot", "-c", "@" + f, "--image-opts",
                    Qemu.noFlush(img));
            assertEquals(0, r.exitCode(), "snapshot -c '" + n + "': " + r.stderr());
        }
        Qemu.io(img, "write -P 0x7f 0 1M");
        Oracle.assertClean(img);

        try (QcowImage qi = QcowImage.open(img)) {
            List<SnapshotEntry> snaps = qi.snapshots();
            assertEquals(names.size(), snaps.size());
            for (int k = 0; k < names.size(); k++) {
                byte[] want = names.get(k).getBytes(StandardCharsets.UTF_8);
                if (want.length > 255) {
                    want = Arrays.copyOf(want, 255); // qemu-img's limit
                }
                assertArrayEquals(want, snaps.get(k).name(), "name of snapshot " + (k + 1));
                assertEquals(Integer.toString(k + 1), snaps.get(k).idString());
            }
            // Every snapshot's contents are distinct, so equal bytes identify the chosen snapshot.
            Map<String, byte[]> byId = new LinkedHashMap<>();
            for (SnapshotEntry s : snaps) {
                byte[] b = Qemu.snapshotBytes(img, s.idString(), dir);
                Oracle.assertReads(b, Ours.disk(qi.snapshotView(s)), "snapshot " + s.idString(),
                        new int[] {4096, 3000}, 8, 0);
                byId.put(s.idString(), b);
            }
            List<String> queries = new ArrayList<>(names);
            queries.addAll(List.of("2", "3", "8", "9", "10", "11", "12", "01", " 1", "nope", "DUP",
                    long300.substring(0, 255), "ünïcødé"));
            int q = 0;
            for (String query : queries) {
                q++;
                Path f = dir.resolve("query" + q);
                Files.write(f, query.getBytes(StandardCharsets.UTF_8));
                String shown = query.length() > 40 ? query.substring(0, 40) + "..." : query;
                Path out = dir.resolve("q" + q + ".raw");
                Processes.Output r = Qemu.imgWithFileArgs("convert", "-l", "@" + f, "-O", "raw", img.toString(),
                        out.toString());
                SnapshotEntry ours = null;
                try {
                    ours = qi.findSnapshot(query);
                } catch (ImageException e) {
                    // not found: QEMU must fail too
                }
                if (r.exitCode() != 0) {
                    assertNull(ours, "qemu-img convert -l '" + shown + "' fails (" + r.stderr().trim()
                            + ") but findSnapshot found " + ours);
                    continue;
                }
                assertNotNull(ours, "qemu-img convert -l '" + shown + "' finds a snapshot, findSnapshot does not");
                byte[] qemu = Bytes.readFile(out);
                assertArrayEquals(byId.get(ours.idString()), qemu, "-l '" + shown + "': QEMU chose another snapshot than "
                        + ours.idString());
                Files.delete(out);
            }
            // snapshot.name= and snapshot.id= select by one field only.
            for (String query : List.of("dup", "1", "7", "2", "with space  and\ttab", "ünïcødé ✓ 快照", "nope")) {
                for (String field : List.of("name", "id")) {
                    q++;
                    Path f = dir.resolve("opt" + q);
                    Files.write(f, ("snapshot." + field + "=" + query).getBytes(StandardCharsets.UTF_8));
                    Path out = dir.resolve("o" + q + ".raw");
                    Processes.Output r = Qemu.imgWithFileArgs("convert", "-l", "@" + f, "-O", "raw",
                            img.toString(), out.toString());
                    SnapshotEntry ours = field.equals("name") ? qi.findByName(query) : qi.findById(query);
                    if (r.exitCode() != 0) {
                        assertNull(ours, "snapshot." + field + "=" + query + " fails in QEMU");
                        continue;
                    }
                    assertNotNull(ours, "snapshot." + field + "=" + query);
                    assertArrayEquals(byId.get(ours.idString()), Bytes.readFile(out),
                            "snapshot." + field + "=" + query);
                    Files.delete(out);
                }
            }
        }
    }

    /**
     * VM state: disk-only snapshots have none. qemu-img cannot save VM state, but qemu-io can write
     * to the VM state area ({@code write -b}); a snapshot then carries those clusters, and setting
     * the entry's vm_state_size by hand makes it a snapshot with VM state. QEMU checks the bytes by
     * reverting a copy and reading its VM state with {@code read -b -P}.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cluster_size=4096", "cluster_size=512", "cluster_size=65536,extended_l2=on",
        "cluster_size=65536,compat=0.10"})
    void vmState(String options) throws IOException {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "3M", options);
        Qemu.io(img, "write -P 0x11 0 64k");
        Qemu.snapshot(img, "diskonly");
        Qemu.io(img, "write -b -P 0x5a 0 10240", "write -b -P 0x5b 10240 5120", "write -P 0x12 1M 4k");
        Qemu.snapshot(img, "withstate");
        // Change the active VM state afterwards, so only the snapshot's own tables give 0x5a/0x5b.
        Qemu.io(img, "write -b -P 0x6c 0 16384", "write -P 0x13 0 4k");
        int vmSize = 15360;
        SnapshotEntryPoker.of(img).vmStateSize(1, vmSize);
        Oracle.assertClean(img);
        assertTrue(Qemu.img("snapshot", "-l", img.toString()).contains("15 KiB"), "qemu-img shows the VM state");

        Path copy = dir.resolve("vmcopy.qcow2");
        Files.copy(img, copy);
        Qemu.applySnapshot(copy, "withstate");
        Qemu.io(copy, "read -b -P 0x5a 0 10240", "read -b -P 0x5b 10240 5120");

        byte[] expected = new byte[vmSize];
        Arrays.fill(expected, 0, 10240, (byte) 0x5a);
        Arrays.fill(expected, 10240, vmSize, (byte) 0x5b);
        try (QcowImage qi = QcowImage.open(img)) {
            SnapshotEntry diskOnly = qi.findSnapshot("diskonly");
            assertEquals(0, diskOnly.vmStateSize());
            BlockSource none = qi.vmStateView(diskOnly);
            assertEquals(0, none.size());
            assertEquals(0, Oracle.read(Ours.disk(none), 0, ByteBuffer.allocate(512)));
            SnapshotEntry withState = qi.findSnapshot("withstate");
            assertEquals(vmSize, withState.vmStateSize());
            Oracle.assertReads(expected, Ours.disk(qi.vmStateView(withState)), "VM state");
        }
        // The VM state does not leak into the disk.
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /**
     * The last data cluster of an image (or of its external data file) cut short by the end of
     * the file: qemu-img check calls that clean (only a cluster starting at or past the end is an
     * error), and QEMU reads the missing part as zeros, whatever offset a read starts at.
     */
    @ParameterizedTest(name = "external data file={0}")
    @ValueSource(booleans = {false, true})
    void lastDataClusterCutShortByEndOfFile(boolean external) throws IOException {
        Path img = dir.resolve("short.qcow2");
        Path data = dir.resolve("short.data");
        Qemu.create(img, "1M", external ? "data_file=" + data : "");
        Qemu.io(img, "write -P 0x11 0 64k", "write -P 0x12 960k 64k");
        Path cut = external ? data : img;
        long clusterStart = external ? 960 * K : Files.size(img) - 65536;
        Poke.setLength(cut, clusterStart + 32 * K + 100);
        Oracle.assertClean(img);
        byte[] expected = Qemu.activeBytes(img, dir);
        assertEquals(0x12, expected[960 * K + 32 * K + 99]);
        assertEquals(0, expected[960 * K + 32 * K + 100]);
        try (QcowImage qi = QcowImage.open(img)) {
            Oracle.assertReads(expected, Ours.disk(qi.activeView()), "image cut inside its last data cluster");
            Oracle.assertRange(expected, Ours.disk(qi.activeView()), 1000 * K, 1000, 0, false,
                    "read starting past the end");
        }
    }

    static Stream<Arguments> largeDiskCases() {
        return Stream.of(Arguments.of(512, 5L << 30, ""), Arguments.of(65536, 20L << 30, ""),
                Arguments.of(2 * M, 40L << 30, ",extended_l2=on,compression_type=zstd"));
    }

    /**
     * Disks larger than 4 GiB, written around the 2 GiB and 4 GiB marks (where int arithmetic
     * would overflow) and near the end; compared range by range with QEMU's sparse raw output.
     */
    @ParameterizedTest(name = "cluster_size={0} size={1}{2}")
    @MethodSource("largeDiskCases")
    void largeDisks(int c, long size, String extra) {
        Path img = Qemu.create(dir.resolve("big.qcow2"), Long.toString(size), "cluster_size=" + c + extra);
        long[] spots = {0, (1L << 31) - 100, (1L << 32) - 1, (5L << 30) - 70_000, size * 3 / 4 + 12345,
                size - 70_000};
        List<String> writes = new ArrayList<>();
        for (int i = 0; i < spots.length; i++) {
            writes.add("write -P " + (0x21 + i) + " " + spots[i] + " " + Math.min(70_000, size - spots[i]));
        }
        long compressedAt = size / 2 / c * c;
        writes.add("write -c -P 0x2f " + compressedAt + " " + c);
        Qemu.io(img, writes.toArray(new String[0]));
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 0x31 " + ((1L << 32) - 3000) + " 5000", "write -z " + ((1L << 31) - 512) + " 1024",
                "discard " + (spots[4] / c * c) + " " + (2L * c), "write -P 0x32 " + (compressedAt + 100) + " 10");
        Qemu.snapshot(img, "two");
        Qemu.io(img, "write -P 0x41 " + (size - 1) + " 1");

        Random r = new Random(size);
        List<long[]> ranges = new ArrayList<>();
        for (long s : spots) {
            ranges.add(new long[] {s - 5001, 80_003});
        }
        ranges.add(new long[] {compressedAt - 7, c + 14L});
        ranges.add(new long[] {(1L << 32) - 4000, 8000});
        for (int i = 0; i < 20; i++) {
            ranges.add(new long[] {r.nextLong(size) | 1, 1 + r.nextInt(M)});
        }
        try (QcowImage qi = QcowImage.open(img)) {
            for (SnapshotEntry s : qi.snapshots()) {
                Path raw = Qemu.convertToFile(img, s.idString(), dir.resolve("snap" + s.idString() + ".raw"));
                Oracle.assertRangesMatchFile(raw, Ours.disk(qi.snapshotView(s)), ranges, "snapshot " + s.idString());
            }
            Path raw = Qemu.convertToFile(img, null, dir.resolve("active.raw"));
            Oracle.assertRangesMatchFile(raw, Ours.disk(qi.activeView()), ranges, "active");
        }
    }

    /**
     * Snapshot entries without extra data, as very old QEMU wrote them: no disk size is recorded,
     * so, as in QEMU, the snapshot has the image's current size (and its VM state size comes from
     * the 32-bit field). Made by rewriting the table of a v2 image, and of a v3 image resized after
     * its snapshots (qemu-img check calls such v3 entries incomplete, but QEMU reads them).
     */
    @ParameterizedTest(name = "compat={0}")
    @ValueSource(strings = {"0.10", "1.1"})
    void snapshotEntriesWithoutExtraData(String compat) throws IOException {
        Path img = Qemu.create(dir.resolve("legacy.qcow2"), "4M", "cluster_size=512,compat=" + compat);
        Qemu.io(img, "write -P 0x11 0 4M", "write -z 1M 100k");
        Qemu.snapshot(img, "old1");
        Qemu.io(img, "write -P 0x12 2M 1M");
        Qemu.snapshot(img, "old2");
        if (compat.equals("1.1")) {
            Qemu.resize(img, "6M");
            Qemu.io(img, "write -P 0x13 3M 3M");
        }
        SnapshotEntryPoker.of(img).shortenExtraData(0, 0).shortenExtraData(1, 0); // both entries
        try (QcowImage qi = QcowImage.open(img)) {
            for (SnapshotEntry s : qi.snapshots()) {
                assertFalse(s.hasDiskSize(), s + " has no disk size");
                assertEquals(qi.header().size(), qi.snapshotView(s).size());
            }
        }
        assertEquals(2, Oracle.assertImageMatchesQemu(Ours::open, img, dir));
    }

    /**
     * Bit 0 of an L2 entry means "reads as zeros" only from version 3 on; QEMU refuses to read a
     * v2 image that has it set (EIO, "Zero cluster entry found in pre-v3 image") rather than guess.
     */
    @Test
    void zeroFlagInVersion2ImageIsCorrupt() throws IOException {
        Path img = Qemu.create(dir.resolve("v2zero.qcow2"), "1M", "compat=0.10");
        Qemu.io(img, "write -P 0x11 0 64k", "write -P 0x12 128k 64k");
        long first = TableWalk.of(img).l2EntryPos(0);
        Poke.u64(img, first, Poke.readU64(img, first) | 1);
        Processes.Output r = Qemu.run(List.of("qemu-img", "convert", "-O", "raw", img.toString(),
                dir.resolve("out.raw").toString()));
        assertNotEquals(0, r.exitCode(), "QEMU reads it after all: " + r.stderr());
        try (QcowImage qi = QcowImage.open(img)) {
            ImageException e = assertThrows(ImageException.class,
                    () -> Oracle.readRange(Ours.disk(qi.activeView()), 100, 1000));
            assertTrue(e.getMessage().contains("zero"), e.getMessage());
            byte[] fine = Oracle.readRange(Ours.disk(qi.activeView()), 128 * K, 64 * K);
            byte[] want = new byte[64 * K];
            Arrays.fill(want, (byte) 0x12);
            assertArrayEquals(want, fine, "clusters without the flag still read");
        }
    }

    /** Reads straddling the end of the disk and L1 entries past it, with many reads of 1 byte. */
    @Test
    void byteByByteAtClusterEdges() {
        Path img = Qemu.create(dir.resolve("edge.qcow2"), "1M", "cluster_size=512");
        Qemu.io(img, "write -P 0x11 511 2", "write -c -P 0x12 1024 512", "write -P 0x13 32767 2",
                "write -P 0x14 1048575 1");
        Qemu.snapshot(img, "s");
        Qemu.io(img, "write -z 0 1024");
        try (QcowImage qi = QcowImage.open(img)) {
            byte[] expected = Qemu.snapshotBytes(img, "1", dir);
            Qcow2View v = qi.snapshotView(qi.snapshots().get(0));
            Random r = new Random(5);
            for (int off : new int[] {0, 510, 511, 512, 1023, 1024, 1535, 1536, 32766, 32767, 32768, 1048574,
                    1048575}) {
                for (int len = 1; len <= 3; len++) {
                    Oracle.assertRange(expected, Ours.disk(v), off, len, r.nextInt(5), r.nextBoolean(), "edge");
                }
            }
            Oracle.assertReads(expected, Ours.disk(v), "snapshot", new int[] {1, 7, 512}, 32, 0);
        }
    }

    /** Opening a missing snapshot name is NOT_FOUND, like qemu-img's "Can't find snapshot". */
    @Test
    void unknownSnapshot() {
        Path img = Qemu.create(dir.resolve("u.qcow2"), "1M", "");
        Qemu.snapshot(img, "a");
        try (QcowImage qi = QcowImage.open(img)) {
            assertThrows(ImageException.class, () -> qi.findSnapshot("b"));
            assertFalse(Qemu.run(List.of("qemu-img", "convert", "-l", "b", "-O", "raw", img.toString(),
                    dir.resolve("o.raw").toString())).exitCode() == 0);
        }
    }
}
