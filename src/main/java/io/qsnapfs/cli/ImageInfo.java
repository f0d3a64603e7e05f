package io.qsnapfs.cli;

import io.qsnapfs.engine.read.BackingChain;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.Features;
import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.QcowHeader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The facts {@code qsnapfs info} reports about an image, gathered once and rendered either as text
 * ({@link InfoText}) or as JSON. The JSON form is an interface: fields are only ever added, never
 * renamed or removed, and every field is always present (null when it does not apply).
 *
 * <pre>
 * {
 *   "file": "web01.qcow2",              the path as given
 *   "path": "/abs/web01.qcow2",         absolute path
 *   "format": "qcow2",
 *   "version": 3,                       2 or 3
 *   "compat": "1.1",                    "0.10" for version 2, "1.1" for version 3
 *   "virtual_size": 10737418240,        bytes
 *   "file_length": 204800,              bytes of the image file
 *   "cluster_size": 65536,
 *   "cluster_bits": 16,
 *   "refcount_bits": 16,
 *   "compression_type": "zlib",         or "zstd"
 *   "extended_l2": false,
 *   "lazy_refcounts": false,
 *   "corrupt": false,
 *   "dirty": false,
 *   "incompatible_features": {"value": 0, "bits": [{"bit": 4, "name": "extended L2 entries"}]},
 *   "compatible_features":   {"value": 0, "bits": []},
 *   "autoclear_features":    {"value": 0, "bits": []},
 *   "backing": null | {
 *       "file": "base.qcow2",           the name stored in the header
 *       "format": "qcow2",              the format used ("qcow2" or "raw")
 *       "format_in_header": "qcow2",    null when the header does not say and the format was probed
 *       "path": "/abs/base.qcow2",      resolved against the image's directory
 *       "backing": null | {...}         the backing file's own backing file, same shape
 *   },
 *   "data_file": null | {"file": "web01.data", "path": "/abs/web01.data"},
 *   "header_extensions": [
 *       {"type": "0xe2792aca", "name": "backing format", "known": true, "offset": 112, "length": 5}
 *   ],
 *   "snapshots": [...]                  each as {@link SnapshotFacts} documents, exclusive_bytes included
 * }
 * </pre>
 */
record ImageInfo(
        String file,
        String path,
        String format,
        int version,
        String compat,
        long virtualSize,
        long fileLength,
        long clusterSize,
        int clusterBits,
        int refcountBits,
        String compressionType,
        boolean extendedL2,
        boolean lazyRefcounts,
        boolean corrupt,
        boolean dirty,
        FeatureSet incompatibleFeatures,
        FeatureSet compatibleFeatures,
        FeatureSet autoclearFeatures,
        Backing backing,
        DataFile dataFile,
        List<Extension> headerExtensions,
        List<SnapshotFacts> snapshots) {

    /** A feature field: its value and the name of each set bit. */
    record FeatureSet(long value, List<FeatureNames.Bit> bits) {
    }

    /** One backing file of the chain. */
    record Backing(String file, String format, String formatInHeader, String path, Backing backing) {
    }

    /** The external data file. */
    record DataFile(String file, String path) {
    }

    /** One header extension. */
    record Extension(String type, String name, boolean known, long offset, int length) {
    }

    /**
     * Gathers the facts of an open image; {@code given} is the path as the user wrote it,
     * {@code exclusive} says whether the snapshots' exclusive bytes are counted.
     */
    static ImageInfo of(Path given, QcowImage image, SnapshotFacts.Exclusive exclusive) {
        QcowHeader h = image.header();
        List<Extension> extensions = new ArrayList<>();
        for (HeaderExtension e : h.extensions()) {
            boolean known = isKnown(e.type());
            extensions.add(new Extension(Hex.of(e.type() & 0xffffffffL), known ? e.typeName() : "unknown", known,
                    e.offset(), e.data().length));
        }
        String dataFileName = h.dataFileName();
        DataFile dataFile = dataFileName == null ? null
                : new DataFile(dataFileName, String.valueOf(image.dataFilePath()));
        return new ImageInfo(given.toString(), image.path().toAbsolutePath().toString(), "qcow2", h.version(),
                h.version() == 2 ? "0.10" : "1.1", h.size(), image.fileSize(), h.clusterSize(), h.clusterBits(),
                h.refcountBits(), Features.compressionName(h.compressionType()), h.hasExtendedL2(),
                (h.compatibleFeatures() & Features.COMPAT_LAZY_REFCOUNTS) != 0, h.isCorrupt(), h.isDirty(),
                features(h, FeatureNames.INCOMPATIBLE, h.incompatibleFeatures()),
                features(h, FeatureNames.COMPATIBLE, h.compatibleFeatures()),
                features(h, FeatureNames.AUTOCLEAR, h.autoclearFeatures()),
                backing(image), dataFile, extensions, SnapshotFacts.of(image, exclusive));
    }

    private static boolean isKnown(int type) {
        return switch (type) {
            case HeaderExtension.BACKING_FORMAT, HeaderExtension.FEATURE_NAME_TABLE, HeaderExtension.BITMAPS,
                    HeaderExtension.FULL_DISK_ENCRYPTION, HeaderExtension.EXTERNAL_DATA_FILE -> true;
            default -> false;
        };
    }

    private static FeatureSet features(QcowHeader h, int kind, long value) {
        return new FeatureSet(value, FeatureNames.of(h, kind, value));
    }

    private static Backing backing(QcowImage image) {
        BackingChain.Backing b = image.backing();
        if (b == null) {
            return null;
        }
        QcowHeader h = image.header();
        Backing next = b.image() == null ? null : backing(b.image());
        return new Backing(h.backingFileName(), b.format(), h.backingFormat(), b.path().toAbsolutePath().toString(),
                next);
    }
}
