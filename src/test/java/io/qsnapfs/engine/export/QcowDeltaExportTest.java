package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.DiffExtent;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Delta exports ({@link QcowExport#delta}): the clusters that changed between two disks, over a raw
 * and over a qcow2 export of the older disk (FROM) made by {@code qemu-img convert}. The changes are
 * the ranges the test wrote between the two. Each delta must be clean, convert through its backing
 * file to exactly the newer disk (TO), and hold exactly the clusters the changes touch: zero clusters
 * where TO reads zeros throughout, data clusters elsewhere.
 */
class QcowDeltaExportTest {
    @TempDir
    Path dir;

    /** One qemu-io command between FROM and TO and the guest range it changes. */
    private record Write(String command, long start, long length) {
        static Write data(int pattern, long start, long length) {
            return new Write("write -P " + pattern + " " + start + " " + length, start, length);
        }

        static Write compressed(int pattern, long start, long length) {
            return new Write("write -c -P " + pattern + " " + start + " " + length, start, length);
        }

        static Write zeros(long start, long length) {
            return new Write("write -z " + start + " " + length, start, length);
        }

        static Write discard(long start, long length) {
            return new Write("discard " + start + " " + length, start, length);
        }
    }

    /** An image, what is written before FROM, between FROM and TO, and after TO (the active layer). */
    private record Plan(String size, String options, List<Write> before, List<Write> between, List<Write> after) {
    }

    enum Source {
        /** 512-byte clusters: writes across many L2 tables, zeros over data, a discard. */
        CLUSTERS_512,
        /** 64 KiB clusters, writes of parts of clusters, zeros over data, up to the last byte of the disk. */
        CLUSTERS_64K,
        /** 2 MiB clusters and a disk of 5.25 clusters. */
        CLUSTERS_2M,
        /** Extended L2 entries: subcluster writes and zeros. */
        EXTENDED_L2,
        /** zlib-compressed clusters in FROM and TO. */
        COMPRESSED,
        /** Over a qcow2 backing file of its own. */
        QCOW2_BACKING
    }

    private Plan plan(Source source) {
        return switch (source) {
            case CLUSTERS_512 -> new Plan("2097152", "cluster_size=512",
                    List.of(Write.data(0x11, 0, 300000), Write.data(0x12, 1048576, 65536)),
                    List.of(Write.data(0x21, 1000, 100), Write.zeros(40960, 33000), Write.discard(1048576, 4096),
                            Write.data(0x22, 2000000, 97152), Write.zeros(1500000, 512)),
                    List.of(Write.data(0x31, 70000, 70000), Write.zeros(0, 512)));
            case CLUSTERS_64K -> new Plan("11534848", "cluster_size=65536",
                    List.of(Write.data(0x11, 0, 4 << 20), Write.data(0x12, 8 << 20, 2 << 20)),
                    List.of(Write.data(0x21, 4096, 4096), Write.zeros(1 << 20, 128 << 10),
                            Write.zeros((2 << 20) + 512, 1024), Write.data(0x22, 11534000, 848),
                            Write.compressed(0x23, 6 << 20, 128 << 10)),
                    List.of(Write.data(0x31, 9 << 20, 100), Write.zeros(8 << 20, 64 << 10)));
            case CLUSTERS_2M -> new Plan("11010048", "cluster_size=2097152",
                    List.of(Write.data(0x11, 0, 6 << 20)),
                    List.of(Write.data(0x21, 3 << 20, 4096), Write.zeros(4 << 20, 2 << 20),
                            Write.data(0x22, 11000000, 10048)),
                    List.of(Write.zeros(0, 512)));
            case EXTENDED_L2 -> new Plan("8M", "cluster_size=65536,extended_l2=on",
                    List.of(Write.data(0x11, 0, 1 << 20)),
                    List.of(Write.data(0x21, 6144, 2048), Write.zeros(65536, 4096), Write.zeros(131072, 65536),
                            Write.discard(262144, 8192), Write.data(0x22, 5 << 20, 3000)),
                    List.of(Write.data(0x31, 2048, 2048)));
            case COMPRESSED -> new Plan("4M", "cluster_size=65536",
                    List.of(Write.compressed(0x11, 0, 1 << 20)),
                    List.of(Write.data(0x21, 100000, 10), Write.compressed(0x22, 2 << 20, 192 << 10),
                            Write.zeros(512 << 10, 64 << 10)),
                    List.of(Write.compressed(0x31, 3 << 20, 64 << 10)));
            case QCOW2_BACKING -> new Plan("6M", "cluster_size=4096,backing_file=base.qcow2,backing_fmt=qcow2",
                    List.of(Write.data(0x11, 0, 8192)),
                    List.of(Write.zeros(65536, 65536), Write.data(0x21, 5 << 20, 1 << 20),
                            Write.data(0x22, 300000, 5000)),
                    List.of(Write.zeros(4096, 4096)));
        };
    }

    @ParameterizedTest
    @EnumSource(Source.class)
    void deltasOverRawAndQcow2ExportsConvertToTheNewerDisk(Source source) throws IOException {
        Plan plan = plan(source);
        if (source == Source.QCOW2_BACKING) {
            Path base = Qemu.create(dir.resolve("base.qcow2"), "5M", "cluster_size=65536");
            Qemu.io(base, "write -P 0x77 0 3M", "write -P 0x78 4M 512k");
        }
        Path image = Qemu.create(dir.resolve("image.qcow2"), plan.size(), plan.options());
        write(image, plan.before());
        Qemu.snapshot(image, "from");
        write(image, plan.between());
        Qemu.snapshot(image, "to");
        write(image, plan.after());

        try (QcowImage img = QcowImage.open(image)) {
            int clusterBits = img.header().clusterBits();
            BlockSource to = img.snapshotView(img.findSnapshot("to"));
            Path expected = Qemu.convertToFile(image, "2", dir.resolve("to.raw"));
            for (String format : new String[] {"raw", "qcow2"}) {
                Path backing = backing(image, "1", format);
                checkDelta(to, plan.between(), clusterBits, backing, format, expected,
                        source + ": snapshot to over a " + format + " export of snapshot from");
            }
            // The active layer over an export of snapshot to.
            Path active = Qemu.convertToFile(image, null, dir.resolve("active.raw"));
            checkDelta(img.activeView(), plan.after(), clusterBits, backing(image, "2", "qcow2"), "qcow2", active,
                    source + ": the active layer over a qcow2 export of snapshot to");
        }
    }

    @Test
    void everythingChangedWritesEveryCluster() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "1049088", "cluster_size=4096");
        Qemu.io(image, "write -P 0x11 0 512k");
        Qemu.snapshot(image, "from");
        Qemu.io(image, "write -z 0 64k", "write -P 0x22 1M 512");
        try (QcowImage img = QcowImage.open(image)) {
            Path expected = Qemu.convertToFile(image, null, dir.resolve("to.raw"));
            Path out = dir.resolve("delta.qcow2");
            QcowExport.delta(img.activeView(), Exporter.Changes.of(List.of(new DiffExtent(0, 1049088, false))), 12,
                    backing(image, "1", "raw").getFileName().toString(), "raw", out, (done, total) -> { });
            ExportChecks.assertImage(out, expected, "everything changed");
            BitSet all = new BitSet();
            all.set(0, 257);
            ExportChecks.assertClusters(all, ExportChecks.heldClusters(out, 12, false), "everything changed");
            BitSet zeros = (BitSet) all.clone();
            zeros.andNot(ExportChecks.nonZeroClusters(expected, 12));
            ExportChecks.assertClusters(zeros, ExportChecks.heldClusters(out, 12, true), "everything changed, zeros");
        }
    }

    @Test
    void nothingChangedWritesNoCluster() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "3M", "cluster_size=65536");
        Qemu.io(image, "write -P 0x11 0 1M");
        Qemu.snapshot(image, "from");
        try (QcowImage img = QcowImage.open(image)) {
            Path expected = Qemu.convertToFile(image, "1", dir.resolve("from.raw.expected"));
            Path out = dir.resolve("delta.qcow2");
            List<long[]> reports = Collections.synchronizedList(new ArrayList<>());
            QcowExport.delta(img.snapshotView(img.findSnapshot("from")), Exporter.Changes.of(List.of()), 16,
                    backing(image, "1", "qcow2").getFileName().toString(), "qcow2", out,
                    (done, total) -> reports.add(new long[] {done, total}));
            ExportChecks.assertProgress(reports, 3 << 20, "nothing changed");
            ExportChecks.assertImage(out, expected, "nothing changed");
            assertTrue(ExportChecks.heldClusters(out, 16, false).isEmpty(), "nothing changed: clusters held");
        }
    }

    @Test
    void aNewerDiskLargerOrSmallerThanTheOlder() throws IOException {
        Path older = Qemu.create(dir.resolve("older.qcow2"), "2M", "cluster_size=65536");
        Qemu.io(older, "write -P 0x11 0 2M");
        Path olderRaw = Qemu.convertToFile(older, null, dir.resolve("older.raw"));

        // Larger: everything past the older disk's end changed (as a diff reports it), zeros or not.
        Path larger = dir.resolve("larger.qcow2");
        Files.copy(older, larger);
        Qemu.resize(larger, "3146240");
        List<Write> writes = List.of(Write.data(0x22, 100000, 1000), Write.data(0x23, 2500000, 1000));
        write(larger, writes);
        List<DiffExtent> changes = new ArrayList<>(extents(writes, null));
        changes.add(new DiffExtent(2 << 20, 3146240 - (2 << 20), false));
        changes.sort(Comparator.comparingLong(DiffExtent::start));
        try (QcowImage img = QcowImage.open(larger)) {
            Path expected = Qemu.convertToFile(larger, null, dir.resolve("larger.raw"));
            Path out = dir.resolve("larger-delta.qcow2");
            QcowExport.delta(img.activeView(), Exporter.Changes.of(changes), 16, olderRaw.getFileName().toString(), "raw", out,
                    (done, total) -> { });
            ExportChecks.assertImage(out, expected, "a larger disk");
            BitSet touched = new BitSet();
            touched.set(1);
            touched.set(32, 49);
            ExportChecks.assertClusters(touched, ExportChecks.heldClusters(out, 16, false), "a larger disk");
        }

        // Smaller: changes past its end are ignored.
        Path smaller = dir.resolve("smaller.qcow2");
        Files.copy(older, smaller);
        Qemu.resize(smaller, "1049088");
        Qemu.io(smaller, "write -z 0 64k");
        try (QcowImage img = QcowImage.open(smaller)) {
            Path expected = Qemu.convertToFile(smaller, null, dir.resolve("smaller.raw"));
            Path out = dir.resolve("smaller-delta.qcow2");
            QcowExport.delta(img.activeView(), Exporter.Changes.of(List.of(new DiffExtent(0, 65536, true),
                    new DiffExtent(1049088, (2 << 20) - 1049088, false))), 16, olderRaw.getFileName().toString(), "raw",
                    out, (done, total) -> { });
            ExportChecks.assertImage(out, expected, "a smaller disk");
            BitSet touched = new BitSet();
            touched.set(0);
            ExportChecks.assertClusters(touched, ExportChecks.heldClusters(out, 16, false), "a smaller disk");
        }
    }

    @Test
    void theBackingFileNameIsStoredAsGiven() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "1M", "cluster_size=65536");
        Qemu.io(image, "write -P 0x11 0 1M");
        Qemu.snapshot(image, "from");
        Qemu.io(image, "write -P 0x22 4096 4096");
        Path backingDir = Files.createDirectories(dir.resolve("backing dir é"));
        Files.move(backing(image, "1", "raw"), backingDir.resolve("from.raw"));
        Path out = Files.createDirectories(dir.resolve("deltas")).resolve("delta.qcow2");
        String name = "../backing dir é/from.raw";
        try (QcowImage img = QcowImage.open(image)) {
            QcowExport.delta(img.activeView(), Exporter.Changes.of(List.of(new DiffExtent(4096, 4096, false))), 16, name, "raw", out,
                    (done, total) -> { });
        }
        QcowHeader h = TableWalk.of(out).header();
        assertEquals(name, h.backingFileName());
        assertEquals("raw", h.backingFormat());
        ExportChecks.assertImage(out, Qemu.convertToFile(image, null, dir.resolve("to.raw")), "relative name");
    }

    @Test
    void changesOutOfGuestOrderAreRefusedAndLeaveAnIncompleteImage() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "1M", "cluster_size=65536");
        Qemu.io(image, "write -P 0x11 0 1M");
        Path out = dir.resolve("delta.qcow2");
        try (QcowImage img = QcowImage.open(image)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QcowExport.delta(
                    img.activeView(), Exporter.Changes.of(List.of(new DiffExtent(655360, 10, false), new DiffExtent(0, 10, false))), 16,
                    "from.raw", "raw", out, (done, total) -> { }));
            assertTrue(e.getMessage().contains("guest order"), e.getMessage());
        }
        ExportChecks.assertRefusedAsIncomplete(out, "changes out of order");
    }

    @Test
    void aDeltaNeedsABackingFileOfAKnownFormatAndAHeaderThatFits() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "1M", "cluster_size=512");
        Path out = dir.resolve("delta.qcow2");
        try (QcowImage img = QcowImage.open(image)) {
            BlockSource active = img.activeView();
            List<DiffExtent> none = List.of();
            for (String[] args : new String[][] {{null, "raw"}, {"from.vmdk", "vmdk"}, {"from.raw", null},
                    {"a\0b", "raw"}, {"n".repeat(400), "raw"}}) {
                ImageException e = assertThrows(ImageException.class, () -> QcowExport.delta(active, Exporter.Changes.of(none), 9, args[0],
                        args[1], out, (done, total) -> { }), String.join(",", String.valueOf(args[0]), args[1]));
                assertEquals(ImageException.Kind.INVALID_ARGUMENT, e.kind(), e.getMessage());
                assertTrue(e.getMessage().startsWith("delta.qcow2: "), e.getMessage());
                assertFalse(Files.exists(out), "refused before OUT was made: " + e.getMessage());
            }
            // The same long name fits a larger cluster.
            QcowExport.delta(active, Exporter.Changes.of(none), 12, "n".repeat(400), "raw", out, (done, total) -> { });
            assertEquals("n".repeat(400), TableWalk.of(out).header().backingFileName());
        }
    }

    /**
     * Exports the delta of {@code to} over {@code backing} with the changes {@code writes} made,
     * and checks it against {@code expected}, TO's bytes.
     */
    private void checkDelta(BlockSource to, List<Write> writes, int clusterBits, Path backing, String format,
            Path expected, String what) throws IOException {
        List<DiffExtent> changes = extents(writes, expected);
        Path out = dir.resolve("delta.qcow2");
        List<long[]> reports = Collections.synchronizedList(new ArrayList<>());
        QcowExport.delta(to, Exporter.Changes.of(changes), clusterBits, backing.getFileName().toString(), format, out,
                (done, total) -> reports.add(new long[] {done, total}));
        ExportChecks.assertProgress(reports, to.size(), what);
        ExportChecks.assertImage(out, expected, what);
        QcowHeader h = TableWalk.of(out).header();
        assertEquals(backing.getFileName().toString(), h.backingFileName(), what + ": backing file name");
        assertEquals(format, h.backingFormat(), what + ": backing format");

        BitSet touched = new BitSet();
        long mask = (1L << clusterBits) - 1;
        for (DiffExtent e : changes) {
            touched.set((int) (e.start() >>> clusterBits), (int) ((e.end() + mask) >>> clusterBits));
        }
        ExportChecks.assertClusters(touched, ExportChecks.heldClusters(out, clusterBits, false), what + ": held");
        BitSet zeros = (BitSet) touched.clone();
        zeros.andNot(ExportChecks.nonZeroClusters(expected, clusterBits));
        ExportChecks.assertClusters(zeros, ExportChecks.heldClusters(out, clusterBits, true), what + ": zero clusters");
        Files.delete(out);
    }

    /**
     * The changed extents of {@code writes} in guest order, each flagged zero when {@code to}
     * (a raw file of TO's bytes, or null: not zero) reads zeros throughout it.
     */
    private static List<DiffExtent> extents(List<Write> writes, Path to) {
        List<DiffExtent> list = new ArrayList<>();
        for (Write w : writes) {
            list.add(new DiffExtent(w.start(), w.length(), to != null && allZero(to, w.start(), w.length())));
        }
        list.sort(Comparator.comparingLong(DiffExtent::start));
        return list;
    }

    private static boolean allZero(Path raw, long start, long length) {
        try (FileChannel ch = FileChannel.open(raw)) {
            ByteBuffer b = ByteBuffer.allocate((int) length);
            Bytes.readFully(ch, start, b);
            for (int i = 0; i < b.limit(); i++) {
                if (b.get(i) != 0) {
                    return false;
                }
            }
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A raw or qcow2 export of snapshot {@code id}, by {@code qemu-img convert}, next to the image. */
    private Path backing(Path image, String id, String format) {
        Path out = dir.resolve("from-" + id + "." + format);
        if (!Files.exists(out)) {
            Qemu.img("convert", "-l", "snapshot.id=" + id, "-O", format, image.toString(), out.toString());
        }
        return out;
    }

    private static void write(Path image, List<Write> writes) {
        if (!writes.isEmpty()) {
            Qemu.io(image, writes.stream().map(Write::command).toArray(String[]::new));
        }
    }
}
