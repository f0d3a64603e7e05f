package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.Features;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Standalone exports ({@link QcowExport#standalone}) of every snapshot and the active layer of
 * images QEMU made, over the format's features: each export clean by {@code qemu-img check},
 * converted by QEMU to exactly the source's bytes, and holding exactly the clusters that are not
 * all zeros.
 */
class QcowExportTest {
    @TempDir
    Path dir;

    /** Source images: two snapshots and an active layer that differs from both. */
    enum Source {
        /** 512-byte clusters: about a hundred L2 tables, writes across them, up to the last byte. */
        CLUSTERS_512,
        /** 64 KiB clusters, a disk of 520 MiB and a bit: two L2 tables, a write across their boundary. */
        CLUSTERS_64K,
        /** 2 MiB clusters and a disk of 10.5 clusters plus 1.5 KiB. */
        CLUSTERS_2M,
        /** Extended L2 entries: data, zero and unallocated subclusters in one cluster. */
        EXTENDED_L2,
        /** zstd-compressed clusters. */
        ZSTD,
        /** Over a qcow2 backing file that is shorter and holds unallocated ranges itself. */
        QCOW2_BACKING,
        /** Over a raw backing file of 3,000,000 bytes, mostly a hole. */
        RAW_BACKING,
        /** 100 MiB never written: nothing to allocate. */
        NEVER_WRITTEN,
        /** A disk of size 0. */
        EMPTY
    }

    @ParameterizedTest
    @EnumSource(Source.class)
    void everySnapshotAndTheActiveLayerConvertToQemusBytes(Source source) throws IOException {
        Path image = build(source);
        List<Qemu.Listed> snapshots = Qemu.snapshots(image);
        assertTrue(source == Source.EMPTY || snapshots.size() == 2, source + ": " + snapshots);
        try (QcowImage img = QcowImage.open(image)) {
            int clusterBits = img.header().clusterBits();
            for (Qemu.Listed s : snapshots) {
                exportAndCheck(image, s.id(), img.snapshotView(img.findSnapshot(s.id())), clusterBits,
                        source != Source.RAW_BACKING, source + " snapshot " + s);
            }
            exportAndCheck(image, null, img.activeView(), clusterBits, source != Source.RAW_BACKING,
                    source + " active layer");
        }
    }

    @Test
    void clusterSizesOtherThanTheSourcesGiveTheSameBytes() throws IOException {
        Path image = build(Source.CLUSTERS_64K);
        try (QcowImage img = QcowImage.open(image)) {
            for (int clusterBits : new int[] {9, 12, 21}) {
                exportAndCheck(image, "1", img.snapshotView(img.findSnapshot("1")), clusterBits, false,
                        "64 KiB source exported with cluster_bits " + clusterBits);
            }
        }
    }

    @Test
    void theHeaderIsVersion3WithSixteenBitRefcountsAndNoBackingFile() throws IOException {
        Path image = build(Source.ZSTD);
        Path out = dir.resolve("header.qcow2");
        try (QcowImage img = QcowImage.open(image)) {
            QcowExport.standalone(img.activeView(), 16, out, (done, total) -> { });
        }
        QcowHeader h = TableWalk.of(out).header();
        assertEquals(3, h.version());
        assertEquals(4, h.refcountOrder());
        assertEquals(0, h.incompatibleFeatures(), "no incompatible feature left, compression type zlib");
        assertEquals(0, h.compatibleFeatures());
        assertEquals(0, h.autoclearFeatures());
        assertEquals(0, h.nbSnapshots());
        assertNull(h.backingFileName());
        assertEquals(Features.EXPORT_INCOMPLETE_NAME, h.featureName(QcowHeader.FEATURE_INCOMPATIBLE, 63));
        // Nothing past the refcount table, which ends the file.
        assertEquals(h.refcountTableOffset() + h.refcountTableClusters() * h.clusterSize(), Files.size(out));
    }

    @Test
    void anExistingFileIsTruncatedFirst() throws IOException {
        Path image = build(Source.CLUSTERS_2M);
        Path out = dir.resolve("old.qcow2");
        try (RandomAccessFile f = new RandomAccessFile(out.toFile(), "rw")) {
            f.setLength(200L << 20);
            f.write(Bytes.noise(1 << 20, 5));
        }
        try (QcowImage img = QcowImage.open(image)) {
            QcowExport.standalone(img.activeView(), 21, out, (done, total) -> { });
        }
        Path expected = Qemu.convertToFile(image, null, dir.resolve("expected.raw"));
        ExportChecks.assertImage(out, expected, "export over an existing file");
        assertTrue(Files.size(out) < 40L << 20, "file size " + Files.size(out));
    }

    /**
     * Exports {@code source} (the snapshot {@code id} of {@code image}, or its active layer) and
     * checks the result against QEMU's conversion of the source. With {@code exactly}, the export
     * allocates exactly the clusters that hold a byte other than zero; else at least those. That
     * holds where every data extent the source's translation gives holds such a byte in each of the
     * export's clusters: not where a raw backing file's zeros are data, nor where an export's
     * clusters are smaller than the source's, whose zeros a partial write left in a data cluster.
     */
    private void exportAndCheck(Path image, String id, BlockSource source, int clusterBits, boolean exactly,
            String what) throws IOException {
        Path expected = Qemu.convertToFile(image, id, dir.resolve("expected.raw"));
        Path out = dir.resolve("out.qcow2");
        List<long[]> reports = Collections.synchronizedList(new ArrayList<>());
        QcowExport.standalone(source, clusterBits, out, (done, total) -> reports.add(new long[] {done, total}));
        ExportChecks.assertProgress(reports, source.size(), what);
        ExportChecks.assertImage(out, expected, what);

        // Exactly the clusters holding a byte other than zero are allocated, as data.
        BitSet nonZero = ExportChecks.nonZeroClusters(expected, clusterBits);
        BitSet held = ExportChecks.heldClusters(out, clusterBits, false);
        if (!exactly) {
            BitSet missing = (BitSet) nonZero.clone();
            missing.andNot(held);
            assertTrue(missing.isEmpty(), what + ": clusters with data left out: " + missing);
        } else {
            ExportChecks.assertClusters(nonZero, held, what + ": allocated clusters");
        }
        assertTrue(ExportChecks.heldClusters(out, clusterBits, true).isEmpty(), what + ": zero clusters written");
        Files.delete(out);
        Files.delete(expected);
    }

    private Path build(Source source) throws IOException {
        Path image = dir.resolve(source.name().toLowerCase() + ".qcow2");
        switch (source) {
            case CLUSTERS_512 -> {
                Qemu.create(image, "3146240", "cluster_size=512");
                Qemu.io(image, "write -P 0x11 0 70000", "write -c -P 0x22 102400 8192", "write -z 110592 4096",
                        "write -P 0x33 3145000 1240");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -P 0x44 1000 3000", "write -z 20480 1024", "discard 102400 4096",
                        "write -P 0x55 1048576 65536");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x66 2097152 100000");
            }
            case CLUSTERS_64K -> {
                Qemu.create(image, "545264128", "cluster_size=65536");
                Qemu.io(image, "write -P 0x11 0 3M", "write -c -P 0x22 3M 128k", "write -z 4M 64k",
                        "write -P 0x33 536800000 200000", "write -P 0x44 545260000 4128");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -P 0x55 1M 1M", "write -z 2M 4k", "discard 3M 64k");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x66 300M 1M");
            }
            case CLUSTERS_2M -> {
                Qemu.create(image, "22021632", "cluster_size=2097152");
                Qemu.io(image, "write -P 0x11 1M 3M", "write -c -P 0x22 8M 2M", "write -z 12M 2M",
                        "write -P 0x33 22020000 1632");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -P 0x44 0 512", "write -z 2M 1M");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x55 16M 100k");
            }
            case EXTENDED_L2 -> {
                Qemu.create(image, "8M", "cluster_size=65536,extended_l2=on");
                Qemu.io(image, "write -P 0x11 4k 8k", "write -P 0x22 64k 64k", "write -z 80k 4k", "write -z 256k 64k",
                        "write -c -P 0x33 1M 64k");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -P 0x44 130k 2k", "discard 64k 16k");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x55 7M 100k");
            }
            case ZSTD -> {
                Qemu.create(image, "6M", "cluster_size=65536,compression_type=zstd");
                Qemu.io(image, "write -c -P 0x11 0 1M", "write -c -P 0x22 2M 64k", "write -P 0x33 3M 1000");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -c -P 0x44 4M 128k");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x55 5M 64k");
            }
            case QCOW2_BACKING -> {
                Path base = Qemu.create(dir.resolve("base.qcow2"), "5M", "cluster_size=65536");
                Qemu.io(base, "write -P 0x77 0 3M", "write -P 0x78 4M 512k");
                Qemu.create(image, "8M", "cluster_size=4096,backing_file=base.qcow2,backing_fmt=qcow2");
                Qemu.io(image, "write -P 0x11 4096 4096", "write -z 8192 8192", "write -P 0x22 6M 4096");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -P 0x33 5242780 200", "discard 4096 4096");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x44 7M 4096");
            }
            case RAW_BACKING -> {
                Path base = dir.resolve("base.raw");
                Bytes.writeFile(base, Bytes.noise(1 << 20, 11));
                try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
                    f.setLength(3_000_000);
                }
                Qemu.create(image, "6M", "cluster_size=65536,backing_file=base.raw,backing_fmt=raw");
                Qemu.io(image, "write -P 0x11 64k 64k", "write -z 128k 64k", "write -P 0x22 2999000 2000");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -P 0x33 1M 4k");
                Qemu.snapshot(image, "two");
                Qemu.io(image, "write -P 0x44 5M 4k");
            }
            case NEVER_WRITTEN -> {
                Qemu.create(image, "100M", "");
                Qemu.snapshot(image, "one");
                Qemu.io(image, "write -z 0 10M");
                Qemu.snapshot(image, "two");
            }
            case EMPTY -> Qemu.create(image, "0", "");
            default -> throw new IllegalArgumentException(source.name());
        }
        return image;
    }
}
