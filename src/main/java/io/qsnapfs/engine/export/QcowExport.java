package io.qsnapfs.engine.export;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.format.FeatureName;
import io.qsnapfs.format.Features;
import io.qsnapfs.format.HeaderCluster;
import io.qsnapfs.format.HeaderFields;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * Writes a disk ({@link BlockSource}) as a new qcow2 image: standalone, like {@code qemu-img convert
 * -O qcow2}, or as a delta over a backing file that holds an older disk.
 *
 * <p>The image is version 3 with 16-bit refcounts, standard L2 entries, no compression and no
 * snapshots, its virtual size the disk's. The file is written front to back in one pass over the
 * disk, in this layout:
 * <pre>
 *   cluster 0   the header ({@link HeaderCluster}), with {@link Features#INCOMPAT_EXPORT_INCOMPLETE}
 *               set and named in a feature name table
 *   then        data clusters in guest order, each range of an L2 table followed by that L2 table
 *               ({@link ClusterWriter}, {@link ClusterMapping})
 *   then        the L1 table
 *   then        the refcount blocks and the refcount table ({@link RefcountStructures}): every
 *               cluster of the file is used once, so every refcount is 1
 * </pre>
 * Memory is bounded whatever the disk's size: the L1 table (at most the format's 32 MiB), one L2
 * table, the refcount table (at most 8 MiB) and buffers of a cluster or 1 MiB.
 *
 * <p>Crash safety: an interrupted export leaves a file that every reader refuses, never an image
 * with wrong bytes. The header goes first and reaches the disk before anything else, with an
 * incompatible feature bit of our own set that no reader knows; QEMU refuses the image naming the
 * feature ("Unsupported qcow2 feature(s): qsnapfs export incomplete"), and so does this program.
 * Only when all the rest is on disk does one small write inside the first sector clear the bit
 * (the feature name table stays, naming a bit that is no longer set). Each step says at its line
 * what a crash there leaves.
 *
 * <p>Failures are {@link ImageException}s (or the source's {@link IOException}s) that name OUT and
 * the structure. Refusals that do not depend on the disk's contents (the L1 table's limit, the
 * header's size, an OUT that is not a regular file) come before OUT is touched.
 */
public final class QcowExport {
    /** refcount_order of the new images: 16-bit refcounts, QEMU's default. */
    private static final int REFCOUNT_ORDER = 4;
    /** The backing formats a delta may name: what an export writes. */
    private static final List<String> BACKING_FORMATS = List.of("raw", "qcow2");
    private static final List<FeatureName> FEATURE_NAMES = List.of(new FeatureName(QcowHeader.FEATURE_INCOMPATIBLE,
            Long.numberOfTrailingZeros(Features.INCOMPAT_EXPORT_INCOMPLETE), Features.EXPORT_INCOMPLETE_NAME));

    private QcowExport() {
    }

    /** One pass over the disk, handing ranges of whole clusters to the writer. */
    @FunctionalInterface
    private interface Walk {
        void run(ClusterWriter writer) throws IOException;
    }

    /**
     * Writes {@code to} as a standalone image of clusters of {@code 1 << clusterBits} bytes (the
     * caller passes the source image's). A cluster that reads as zeros throughout (unallocated,
     * zero clusters, past the end of a backing file: zeros by the disk's translation) stays
     * unallocated, which reads as zeros in an image without a backing file; every other cluster is
     * allocated and holds the disk's bytes. {@code out} is created or truncated.
     *
     * @param progress told the guest bytes done after each chunk of {@link Exporter#DEFAULT_CHUNK}
     */
    public static void standalone(BlockSource to, int clusterBits, Path out, Exporter.Progress progress)
            throws IOException {
        standalone(to, clusterBits, out, OutputFile::create, progress);
    }

    /** {@link #standalone} into the file {@code open} makes of OUT (tests record its writes). */
    static void standalone(BlockSource to, int clusterBits, Path out, Function<Path, OutputFile> open,
            Exporter.Progress progress) throws IOException {
        long size = to.size();
        write(to, clusterBits, out, open, null, null, false, writer -> {
            for (long pos = 0; pos < size; ) {
                long n = Math.min(Exporter.DEFAULT_CHUNK, size - pos);
                writer.copy(pos, n);
                pos += n;
                progress.copied(pos, size);
            }
        });
    }

    /**
     * Writes the clusters of {@code to} that {@code changes} touch as an image over the backing
     * file {@code backingName} (stored as given; QEMU resolves a relative name from OUT's
     * directory) of format {@code backingFormat}, "raw" or "qcow2": an export of the older disk
     * the changes were found against. Each touched cluster becomes a zero cluster when {@code to}
     * reads zeros throughout it, and a data cluster with {@code to}'s bytes for the whole cluster
     * otherwise; every other cluster stays unallocated, so it reads from the backing file. The
     * virtual size is {@code to}'s; changes past its end are ignored.
     *
     * <p>Whether a cluster reads zeros is found from {@code to}'s translation of the whole cluster,
     * since a changed extent may cover only part of one; an extent's {@code zero} flag is not needed.
     *
     * @param changes  the ranges where {@code to} may differ from the backing file's disk, in guest
     *                 order (by start), as a diff yields them; asked once, streamed
     * @param progress told the guest offset reached (of {@code to}'s size) after each chunk
     * @throws IllegalArgumentException when {@code changes} are out of guest order
     */
    public static void delta(BlockSource to, Exporter.Changes changes, int clusterBits, String backingName,
            String backingFormat, Path out, Exporter.Progress progress) throws IOException {
        delta(to, changes, clusterBits, backingName, backingFormat, out, OutputFile::create, progress);
    }

    /** {@link #delta} into the file {@code open} makes of OUT (tests record its writes). */
    static void delta(BlockSource to, Exporter.Changes changes, int clusterBits, String backingName,
            String backingFormat, Path out, Function<Path, OutputFile> open, Exporter.Progress progress)
            throws IOException {
        String name = PositionalFile.nameOf(out);
        if (backingName == null || backingFormat == null || !BACKING_FORMATS.contains(backingFormat)) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": a delta needs a backing file"
                    + " of format raw or qcow2 (got " + (backingName == null ? "no backing file" : "'" + backingName
                    + "'") + ", format " + (backingFormat == null ? "none" : "'" + backingFormat + "'") + ")");
        }
        long size = to.size();
        write(to, clusterBits, out, open, backingName, backingFormat, true, writer -> {
            long[] reported = {0};
            TouchedClusters.forEach(changes, clusterBits, size, (start, end) -> {
                for (long pos = start; pos < end; ) {
                    long n = Math.min(Exporter.DEFAULT_CHUNK, end - pos);
                    writer.copy(pos, n);
                    pos += n;
                    progress.copied(pos, size);
                    reported[0] = pos;
                }
            });
            if (reported[0] < size) {
                progress.copied(size, size); // the rest holds nothing to copy
            }
        });
    }

    private static void write(BlockSource to, int clusterBits, Path path, Function<Path, OutputFile> open,
            String backingName, String backingFormat, boolean zeroClusters, Walk walk) throws IOException {
        String name = PositionalFile.nameOf(path);
        long size = to.size();
        int l1Size = l1Size(name, size, clusterBits);
        HeaderCluster header;
        try {
            header = new HeaderCluster(clusterBits, size, l1Size, 0, 0, 0, Features.INCOMPAT_EXPORT_INCOMPLETE,
                    REFCOUNT_ORDER, backingName, backingFormat, FEATURE_NAMES);
        } catch (IllegalArgumentException e) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": " + e.getMessage(), e);
        }
        if (header.encodedLength() > header.clusterSize()) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": the header"
                    + (backingName == null ? "" : " with the backing file name '" + backingName + "'") + " takes "
                    + header.encodedLength() + " bytes, more than a cluster of " + header.clusterSize() + " bytes holds");
        }

        try (OutputFile out = open.apply(path)) {
            // Crash from here until the sync below: OUT is empty, or holds the header or part of it
            // (refused for the incomplete bit), or the file system shows that cluster as zeros: at
            // worst a file that is no qcow2 image, and nothing of the disk has been written yet.
            out.write(0, header.encode(), "header");
            out.sync("after writing the header");
            // Crash from here on, until the bit is cleared: the header on disk marks the image
            // incomplete, whatever else has reached the disk; QEMU and we refuse to open it.
            ClusterAllocator clusters = new ClusterAllocator(clusterBits, 1);
            ClusterMapping mapping = new ClusterMapping(out, clusters, clusterBits, l1Size);
            walk.run(new ClusterWriter(to, out, mapping, clusterBits, zeroClusters));
            long l1Offset = mapping.finish();
            RefcountStructures refcounts = RefcountStructures.after(clusters.count(), clusterBits, REFCOUNT_ORDER);
            if (refcounts.tableBytes() > QcowHeader.MAX_REFTABLE_BYTES) {
                throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": an image of "
                        + refcounts.total() + " clusters of " + header.clusterSize() + " bytes needs a refcount table of "
                        + refcounts.tableBytes() + " bytes, more than the 8 MiB limit; the export is incomplete");
            }
            refcounts.write(out);
            // The header's table fields, each group one small write (the bit is still set).
            out.write(HeaderFields.SIZE_OFFSET, HeaderFields.sizeAndL1Table(size, 0, l1Size, l1Offset),
                    "header (size and L1 table)");
            out.write(HeaderFields.REFCOUNT_TABLE_OFFSET,
                    HeaderFields.refcountTable(refcounts.tableOffset(), (int) refcounts.tableClusters()),
                    "header (refcount table)");
            out.sync("before marking the image complete");
            // Crash here: everything is on disk, only the bit is still set: refused, but complete.
            out.write(HeaderFields.INCOMPATIBLE_OFFSET, HeaderFields.incompatible(0),
                    "header (incompatible features)");
            // Crash here: the 8 bytes lie in the first sector, written whole or not at all: the
            // image is complete and valid, or still refused.
            out.sync("after marking the image complete");
        }
    }

    /** The L1 entries a disk of {@code size} bytes needs, refused past the format's 32 MiB limit. */
    private static int l1Size(String name, long size, int clusterBits) {
        if (clusterBits < QcowHeader.MIN_CLUSTER_BITS || clusterBits > QcowHeader.MAX_CLUSTER_BITS) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": cluster_bits " + clusterBits
                    + " is outside the valid range " + QcowHeader.MIN_CLUSTER_BITS + ".." + QcowHeader.MAX_CLUSTER_BITS);
        }
        // Standard L2 entries are 8 bytes: an L2 table has 1 << (clusterBits - 3) of them.
        long entries = QcowHeader.l1EntriesFor(clusterBits + clusterBits - 3, size);
        long max = QcowHeader.MAX_L1_BYTES / 8;
        if (size < 0 || entries > max) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": a disk of " + size
                    + " bytes is too large for a qcow2 image of " + (1L << clusterBits) + "-byte clusters: its L1"
                    + " table would have " + entries + " entries, more than the 32 MiB limit allows (" + max + ")");
        }
        return (int) entries;
    }
}
