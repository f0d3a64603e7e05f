package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The first cluster of a new version 3 image without snapshots, encoded: the header, its
 * extensions and the backing file name. What it encodes, {@link QcowHeader#parse} reads back.
 *
 * <pre>
 * Byte layout (big-endian; the fields are those of {@link QcowHeader}):
 *    0 - 103  the header: magic, version 3, backing_file_offset and backing_file_size (both 0
 *             without a backing file), cluster_bits, size, crypt_method 0, l1_size,
 *             l1_table_offset, refcount_table_offset, refcount_table_clusters, nb_snapshots 0,
 *             snapshots_offset 0, incompatible_features, compatible_features 0,
 *             autoclear_features 0, refcount_order, header_length 104 (so no compression type
 *             byte: zlib, and no compressed clusters are written anyway)
 *  104 -      header extensions ({@link HeaderExtension}: type, length, data padded to 8 bytes):
 *               backing file format (0xe2792aca), when the backing file's format is given
 *               feature name table (0x6803f857), when there are names: 48 bytes each ({@link FeatureName})
 *               end of the extension area (type 0, length 0)
 *  then       the backing file name at backing_file_offset: backing_file_size bytes of UTF-8, no NUL
 *  then       zeros to the end of the cluster
 * </pre>
 *
 * @param backingFileName the backing file's name as it is to be stored, or null for none
 * @param backingFormat   the backing file's format ("raw", "qcow2"), or null to leave it unsaid
 * @param featureNames    the records of the feature name table; empty for no table
 */
public record HeaderCluster(
        int clusterBits,
        long size,
        int l1Size,
        long l1TableOffset,
        long refcountTableOffset,
        int refcountTableClusters,
        long incompatibleFeatures,
        int refcountOrder,
        String backingFileName,
        String backingFormat,
        List<FeatureName> featureNames) {

    /** The extension type and length fields that precede each extension's data, and the end marker. */
    private static final int EXTENSION_HEADER = 8;

    public HeaderCluster {
        if (clusterBits < QcowHeader.MIN_CLUSTER_BITS || clusterBits > QcowHeader.MAX_CLUSTER_BITS) {
            throw new IllegalArgumentException("cluster_bits " + clusterBits + " is outside 9..21");
        }
        if (size < 0) {
            throw new IllegalArgumentException("negative disk size " + size);
        }
        if (refcountOrder < 0 || refcountOrder > RefcountBlock.MAX_ORDER) {
            throw new IllegalArgumentException("refcount_order " + refcountOrder + " is outside 0..6");
        }
        if (backingFileName != null) {
            byte[] name = backingFileName.getBytes(StandardCharsets.UTF_8);
            if (name.length == 0 || name.length > QcowHeader.MAX_BACKING_NAME || backingFileName.indexOf(0) >= 0) {
                throw new IllegalArgumentException("a backing file name must be 1 to " + QcowHeader.MAX_BACKING_NAME
                        + " bytes without NUL: '" + backingFileName + "'");
            }
        }
        if (backingFormat != null && (backingFileName == null || backingFormat.isEmpty()
                || backingFormat.indexOf(0) >= 0)) {
            throw new IllegalArgumentException("backing format '" + backingFormat + "' needs a backing file and a"
                    + " name without NUL");
        }
        featureNames = List.copyOf(featureNames);
    }

    public long clusterSize() {
        return 1L << clusterBits;
    }

    /** The bytes of the first cluster in use, from the magic to the end of the backing file name. */
    public int encodedLength() {
        int length = QcowHeader.V3_MIN_HEADER_LENGTH + EXTENSION_HEADER;
        for (HeaderExtension e : extensions(0)) {
            length += e.encodedLength();
        }
        return length + backingNameBytes().length;
    }

    /**
     * The whole first cluster, from position 0 to its limit.
     *
     * @throws IllegalArgumentException when the header, its extensions and the backing file name
     *         do not fit in one cluster ({@link #encodedLength()})
     */
    public ByteBuffer encode() {
        if (encodedLength() > clusterSize()) {
            throw new IllegalArgumentException("a header of " + encodedLength() + " bytes does not fit in a cluster of "
                    + clusterSize() + " bytes");
        }
        byte[] name = backingNameBytes();
        List<HeaderExtension> extensions = extensions(QcowHeader.V3_MIN_HEADER_LENGTH);
        long nameOffset = name.length == 0 ? 0 : encodedLength() - name.length;
        ByteBuffer out = ByteBuffer.allocate((int) clusterSize()).order(ByteOrder.BIG_ENDIAN);
        out.putInt(QcowHeader.MAGIC)
                .putInt(3)
                .putLong(nameOffset)
                .putInt(name.length)
                .putInt(clusterBits)
                .putLong(size)
                .putInt(0) // crypt_method
                .putInt(l1Size)
                .putLong(l1TableOffset)
                .putLong(refcountTableOffset)
                .putInt(refcountTableClusters)
                .putInt(0) // nb_snapshots
                .putLong(0) // snapshots_offset
                .putLong(incompatibleFeatures)
                .putLong(0) // compatible_features
                .putLong(0) // autoclear_features
                .putInt(refcountOrder)
                .putInt(QcowHeader.V3_MIN_HEADER_LENGTH);
        for (HeaderExtension e : extensions) {
            e.encode(out);
        }
        out.putInt(HeaderExtension.END).putInt(0);
        out.put(name);
        return out.clear();
    }

    /** The extensions in the order they are written, the first at {@code start}. */
    private List<HeaderExtension> extensions(long start) {
        List<HeaderExtension> list = new ArrayList<>();
        long at = start;
        if (backingFormat != null) {
            HeaderExtension format = new HeaderExtension(HeaderExtension.BACKING_FORMAT, at,
                    backingFormat.getBytes(StandardCharsets.UTF_8));
            list.add(format);
            at += format.encodedLength();
        }
        if (!featureNames.isEmpty()) {
            list.add(new HeaderExtension(HeaderExtension.FEATURE_NAME_TABLE, at, FeatureName.table(featureNames)));
        }
        return list;
    }

    private byte[] backingNameBytes() {
        return backingFileName == null ? new byte[0] : backingFileName.getBytes(StandardCharsets.UTF_8);
    }
}
