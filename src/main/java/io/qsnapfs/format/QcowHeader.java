package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The qcow2 image header, parsed from the image's first cluster. No I/O happens here: the caller
 * hands in the bytes, and checks that depend on the file's length are left to the engine.
 *
 * <pre>
 * Byte layout (all fields big-endian):
 *    0 -  3  magic "QFI\xfb"
 *    4 -  7  version (2 or 3)
 *    8 - 15  backing_file_offset (0 = no backing file)
 *   16 - 19  backing_file_size (name length in bytes, no NUL)
 *   20 - 23  cluster_bits (9..21)
 *   24 - 31  size (virtual disk size in bytes)
 *   32 - 35  crypt_method (0 none, 1 AES, 2 LUKS)
 *   36 - 39  l1_size (entries in the active L1 table)
 *   40 - 47  l1_table_offset
 *   48 - 55  refcount_table_offset
 *   56 - 59  refcount_table_clusters
 *   60 - 63  nb_snapshots
 *   64 - 71  snapshots_offset
 * version 3 only (v2 headers end at 72 and imply refcount_order 4):
 *   72 - 79  incompatible_features
 *   80 - 87  compatible_features
 *   88 - 95  autoclear_features
 *   96 - 99  refcount_order (refcount width = 1 << refcount_order bits, 0..6)
 *  100 -103  header_length (104, or more; bytes beyond those we know are kept)
 *  104       compression_type (present when header_length > 104)
 *  105 -111  padding
 * then header extensions (see HeaderExtension), then possibly the backing file name at
 * backing_file_offset; all of it inside the first cluster.
 * </pre>
 */
public record QcowHeader(
        int version,
        long backingFileOffset,
        int backingFileSize,
        int clusterBits,
        long size,
        int cryptMethod,
        int l1Size,
        long l1TableOffset,
        long refcountTableOffset,
        int refcountTableClusters,
        int nbSnapshots,
        long snapshotsOffset,
        long incompatibleFeatures,
        long compatibleFeatures,
        long autoclearFeatures,
        int refcountOrder,
        int headerLength,
        int compressionType,
        List<HeaderExtension> extensions,
        String backingFileName) {

    public static final int MAGIC = 0x514649fb;
    public static final int V2_HEADER_LENGTH = 72;
    public static final int V3_MIN_HEADER_LENGTH = 104;
    public static final int MIN_CLUSTER_BITS = 9;
    public static final int MAX_CLUSTER_BITS = 21;
    /** QEMU's limit on the backing file name. */
    public static final int MAX_BACKING_NAME = 1023;
    /** QEMU's limit on an L1 table (active or snapshot): 32 MiB. */
    public static final long MAX_L1_BYTES = 32L << 20;
    /** QEMU's limit on the refcount table: 8 MiB. */
    public static final long MAX_REFTABLE_BYTES = 8L << 20;
    /** At most this many snapshots. */
    public static final int MAX_SNAPSHOTS = 65536;
    /** Byte offset of nb_snapshots; it and snapshots_offset are updated together in one write. */
    public static final int NB_SNAPSHOTS_OFFSET = 60;

    /** Feature kinds in the feature name table. */
    public static final int FEATURE_INCOMPATIBLE = 0;
    public static final int FEATURE_COMPATIBLE = 1;
    public static final int FEATURE_AUTOCLEAR = 2;

    /** The number of header bytes needed to learn cluster_bits and the header length. */
    public static final int FIXED_PART = V3_MIN_HEADER_LENGTH;

    public QcowHeader {
        extensions = List.copyOf(extensions);
    }

    public long clusterSize() {
        return 1L << clusterBits;
    }

    public int refcountBits() {
        return 1 << refcountOrder;
    }

    public boolean hasExtendedL2() {
        return (incompatibleFeatures & Features.INCOMPAT_EXTL2) != 0;
    }

    public boolean hasDataFile() {
        return (incompatibleFeatures & Features.INCOMPAT_DATA_FILE) != 0;
    }

    public boolean isCorrupt() {
        return (incompatibleFeatures & Features.INCOMPAT_CORRUPT) != 0;
    }

    public boolean isDirty() {
        return (incompatibleFeatures & Features.INCOMPAT_DIRTY) != 0;
    }

    /** L2 entry size in bytes: 8, or 16 with extended L2 entries. */
    public int l2EntryBytes() {
        return hasExtendedL2() ? 16 : 8;
    }

    /** 64-bit words per L2 entry: 1, or 2 with extended L2 entries (the entry, then its subcluster bitmap). */
    public int l2EntryWords() {
        return hasExtendedL2() ? 2 : 1;
    }

    /** log2 of the number of entries in one L2 table. */
    public int l2Bits() {
        return clusterBits - (hasExtendedL2() ? 4 : 3);
    }

    /** The number of entries in one L2 table. */
    public int l2Entries() {
        return 1 << l2Bits();
    }

    /** Guest bytes covered by one L1 entry (one whole L2 table). */
    public long bytesPerL1Entry() {
        return 1L << (clusterBits + l2Bits());
    }

    /** The number of L1 entries needed to cover {@code diskSize} guest bytes. */
    public long l1EntriesFor(long diskSize) {
        return l1EntriesFor(clusterBits + l2Bits(), diskSize);
    }

    /**
     * The number of L1 entries needed to cover {@code diskSize} guest bytes when one entry covers
     * {@code 1 << l1Shift} bytes ({@code l1Shift} = cluster_bits + log2 of the entries per L2 table).
     */
    public static long l1EntriesFor(int l1Shift, long diskSize) {
        return (diskSize >>> l1Shift) + ((diskSize & ((1L << l1Shift) - 1)) != 0 ? 1 : 0);
    }

    /** The header extension of the given type, or null. */
    public HeaderExtension extension(int type) {
        return extension(extensions, type);
    }

    private static HeaderExtension extension(List<HeaderExtension> extensions, int type) {
        for (HeaderExtension e : extensions) {
            if (e.type() == type) {
                return e;
            }
        }
        return null;
    }

    /** The backing format named by the header, or null when the header does not say. */
    public String backingFormat() {
        HeaderExtension e = extension(HeaderExtension.BACKING_FORMAT);
        return e == null ? null : e.dataAsString();
    }

    /** The external data file's name, or null. */
    public String dataFileName() {
        HeaderExtension e = extension(HeaderExtension.EXTERNAL_DATA_FILE);
        return e == null ? null : e.dataAsString();
    }

    /** The name given to a feature bit by the image's feature name table, or null. */
    public String featureName(int kind, int bit) {
        return featureName(extensions, kind, bit);
    }

    private static String featureName(List<HeaderExtension> extensions, int kind, int bit) {
        HeaderExtension e = extension(extensions, HeaderExtension.FEATURE_NAME_TABLE);
        return e == null ? null : FeatureName.find(e.data(), kind, bit);
    }

    /**
     * Reads the first {@link #FIXED_PART} bytes far enough to learn cluster_bits, so the caller
     * knows how much of the file holds the whole header.
     */
    public static int peekClusterBits(ByteBuffer start) throws FormatException {
        ByteBuffer b = start.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.remaining() < V2_HEADER_LENGTH) {
            throw FormatException.invalid("file is too short to hold a qcow2 header (" + b.remaining() + " bytes)");
        }
        int base = b.position();
        if (b.getInt(base) != MAGIC) {
            throw FormatException.invalid("not a qcow2 image (bad magic " + Hex.of(b.getInt(base) & 0xffffffffL) + ")");
        }
        // Before cluster_bits: a version 1 (qcow) header has other fields at byte 20.
        checkVersion(b.getInt(base + 4));
        int clusterBits = b.getInt(base + 20);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw FormatException.invalid("cluster_bits " + Integer.toUnsignedString(clusterBits)
                    + " is outside the valid range 9..21");
        }
        return clusterBits;
    }

    /**
     * Parses and validates the header.
     *
     * @param firstCluster the image's first cluster, or the whole file when shorter
     */
    public static QcowHeader parse(ByteBuffer firstCluster) throws FormatException {
        ByteBuffer b = firstCluster.slice().order(ByteOrder.BIG_ENDIAN);
        int clusterBits = peekClusterBits(b);
        long clusterSize = 1L << clusterBits;
        int version = b.getInt(4);
        long backingFileOffset = b.getLong(8);
        int backingFileSize = b.getInt(16);
        long size = b.getLong(24);
        int cryptMethod = b.getInt(32);
        int l1Size = b.getInt(36);
        long l1TableOffset = b.getLong(40);
        long refcountTableOffset = b.getLong(48);
        int refcountTableClusters = b.getInt(56);
        int nbSnapshots = b.getInt(60);
        long snapshotsOffset = b.getLong(64);

        long incompatible = 0;
        long compatible = 0;
        long autoclear = 0;
        int refcountOrder = 4;
        int headerLength = V2_HEADER_LENGTH;
        int compressionType = Features.COMPRESSION_ZLIB;
        if (version == 3) {
            if (b.limit() < V3_MIN_HEADER_LENGTH) {
                throw FormatException.invalid("file is too short to hold a version 3 header");
            }
            incompatible = b.getLong(72);
            compatible = b.getLong(80);
            autoclear = b.getLong(88);
            refcountOrder = b.getInt(96);
            headerLength = b.getInt(100);
            if (Integer.compareUnsigned(headerLength, V3_MIN_HEADER_LENGTH) < 0) {
                throw FormatException.invalid("header_length " + Integer.toUnsignedString(headerLength)
                        + " is shorter than the 104 bytes of a version 3 header");
            }
            if (Integer.toUnsignedLong(headerLength) > clusterSize) {
                throw FormatException.invalid("header_length " + Integer.toUnsignedString(headerLength)
                        + " exceeds the cluster size " + clusterSize);
            }
            if (headerLength > b.limit()) {
                throw FormatException.invalid("header_length " + headerLength + " runs past the end of the file");
            }
            if (headerLength > V3_MIN_HEADER_LENGTH) {
                compressionType = b.get(104) & 0xff;
            }
        }

        long unknown = incompatible & ~Features.INCOMPAT_KNOWN;
        if (unknown != 0) {
            // Like QEMU, name the features from the image's own feature name table when it has one.
            List<HeaderExtension> known;
            try {
                long end = backingFileOffset != 0 && Long.compareUnsigned(backingFileOffset, clusterSize) <= 0
                        ? backingFileOffset : clusterSize;
                known = parseExtensions(b, headerLength, end);
            } catch (FormatException e) {
                known = List.of();
            }
            List<String> names = new ArrayList<>();
            for (int bit = 0; bit < 64; bit++) {
                if ((unknown & (1L << bit)) != 0) {
                    String featureName = featureName(known, FEATURE_INCOMPATIBLE, bit);
                    names.add("bit " + bit + (featureName == null ? "" : " (" + featureName + ")"));
                }
            }
            throw FormatException.unsupported("unknown incompatible feature " + String.join(", ", names)
                    + " set; refusing to read an image this program does not understand");
        }
        if (cryptMethod != 0) {
            throw FormatException.unsupported("encrypted images are not supported (crypt_method "
                    + Integer.toUnsignedString(cryptMethod) + ")");
        }
        if (refcountOrder < 0 || refcountOrder > 6) {
            throw FormatException.invalid("refcount_order " + Integer.toUnsignedString(refcountOrder)
                    + " is outside the valid range 0..6");
        }
        boolean compressionBit = (incompatible & Features.INCOMPAT_COMPRESSION) != 0;
        if (compressionType != Features.COMPRESSION_ZLIB && compressionType != Features.COMPRESSION_ZSTD) {
            throw FormatException.unsupported("unknown compression type " + compressionType);
        }
        if (compressionBit != (compressionType != Features.COMPRESSION_ZLIB)) {
            throw FormatException.invalid(compressionBit
                    ? "compression type feature bit is set but the compression type is zlib"
                    : "compression type " + Features.compressionName(compressionType)
                            + " is set without its incompatible feature bit");
        }
        if ((incompatible & Features.INCOMPAT_EXTL2) != 0 && clusterBits < MIN_CLUSTER_BITS + 5) {
            // 32 subclusters per cluster, each at least 512 bytes (QEMU: "Unsupported subcluster size").
            throw FormatException.invalid("extended L2 entries need a cluster size of at least "
                    + (1 << (MIN_CLUSTER_BITS + 5)) + " bytes (this image has " + clusterSize + ")");
        }
        if (size < 0) {
            throw FormatException.invalid("virtual disk size " + Long.toUnsignedString(size) + " is too large");
        }
        if (Integer.toUnsignedLong(l1Size) * 8 > MAX_L1_BYTES) {
            throw FormatException.invalid("active L1 table of " + Integer.toUnsignedString(l1Size)
                    + " entries exceeds the 32 MiB limit");
        }
        if (Integer.toUnsignedLong(refcountTableClusters) * clusterSize > MAX_REFTABLE_BYTES) {
            throw FormatException.invalid("refcount table of " + Integer.toUnsignedString(refcountTableClusters)
                    + " clusters exceeds the 8 MiB limit");
        }
        if (Integer.toUnsignedLong(nbSnapshots) > MAX_SNAPSHOTS) {
            throw FormatException.invalid("nb_snapshots " + Integer.toUnsignedString(nbSnapshots)
                    + " exceeds the limit of " + MAX_SNAPSHOTS);
        }
        checkAligned("L1 table", l1TableOffset, clusterSize, l1Size != 0);
        checkAligned("refcount table", refcountTableOffset, clusterSize, true);
        checkAligned("snapshot table", snapshotsOffset, clusterSize, nbSnapshots != 0);

        // Extensions follow the header and end before the backing file name or the cluster's end.
        long extensionEnd = backingFileOffset != 0 ? backingFileOffset : clusterSize;
        if (Long.compareUnsigned(backingFileOffset, clusterSize) > 0) {
            throw FormatException.invalid("backing_file_offset " + Hex.of(backingFileOffset)
                    + " lies outside the first cluster");
        }
        List<HeaderExtension> extensions = parseExtensions(b, headerLength, extensionEnd);

        String backingFileName = null;
        if (backingFileOffset != 0) {
            if (Integer.toUnsignedLong(backingFileSize) > MAX_BACKING_NAME) {
                throw FormatException.invalid("backing file name of " + Integer.toUnsignedString(backingFileSize)
                        + " bytes exceeds the limit of " + MAX_BACKING_NAME);
            }
            if (backingFileOffset + backingFileSize > Math.min(clusterSize, b.limit())) {
                throw FormatException.invalid("backing file name at " + Hex.of(backingFileOffset)
                        + " runs past the end of the first cluster");
            }
            byte[] name = new byte[backingFileSize];
            b.get((int) backingFileOffset, name);
            // QEMU reads the name as a C string: a NUL byte ends it (and no path may contain one).
            int length = 0;
            while (length < name.length && name[length] != 0) {
                length++;
            }
            backingFileName = new String(name, 0, length, StandardCharsets.UTF_8);
        }

        QcowHeader header = new QcowHeader(version, backingFileOffset, backingFileSize, clusterBits, size,
                cryptMethod, l1Size, l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots,
                snapshotsOffset, incompatible, compatible, autoclear, refcountOrder, headerLength,
                compressionType, extensions, backingFileName);
        if (Integer.toUnsignedLong(l1Size) < header.l1EntriesFor(size)) {
            throw FormatException.invalid("active L1 table of " + Integer.toUnsignedString(l1Size)
                    + " entries is too small for a disk of " + size + " bytes (needs "
                    + header.l1EntriesFor(size) + ")");
        }
        if (header.extension(HeaderExtension.FULL_DISK_ENCRYPTION) != null) {
            throw FormatException.unsupported("encrypted images are not supported (encryption header present)");
        }
        if (header.hasDataFile() && (header.dataFileName() == null || header.dataFileName().isEmpty())) {
            throw FormatException.unsupported("the image needs an external data file but its header does not name one");
        }
        return header;
    }

    private static void checkVersion(int version) throws FormatException {
        if (version != 2 && version != 3) {
            throw FormatException.unsupported("qcow2 version " + Integer.toUnsignedString(version)
                    + " is not supported (only 2 and 3)");
        }
    }

    /**
     * A table's offset: a non-zero multiple of the cluster size while the table has entries. An
     * empty table may have offset 0, but any other offset must still be aligned and not negative
     * (QEMU's qcow2_validate_table: "Snapshot table offset invalid").
     */
    private static void checkAligned(String what, long offset, long clusterSize, boolean used)
            throws FormatException {
        boolean misaligned = (offset & (clusterSize - 1)) != 0;
        if (misaligned || (used ? offset <= 0 : offset < 0)) {
            throw FormatException.invalid(what + " offset " + Hex.of(offset) + " is not a " + (used ? "non-zero " : "")
                    + "multiple of the cluster size " + clusterSize);
        }
    }

    /**
     * The extensions from {@code start} up to {@code end}, where the backing file name starts or the
     * first cluster ends. Like QEMU: the area ends at {@code end} or at an end marker; an extension
     * whose 8-byte header or data would cross {@code end} is an error ("Header extension too large"),
     * also when a backing file name starts inside it. Bytes past the end of a file shorter than a
     * cluster read as zeros, i.e. as an end marker.
     */
    private static List<HeaderExtension> parseExtensions(ByteBuffer b, int start, long end) throws FormatException {
        List<HeaderExtension> list = new ArrayList<>();
        long pos = start;
        while (true) {
            if (pos >= end) {
                return list;
            }
            if (pos + 8 > end) {
                throw FormatException.invalid("header extension at " + Hex.of(pos) + " crosses the end of the"
                        + " header area at " + Hex.of(end) + " (header extension too large)");
            }
            if (pos + 8 > b.limit()) {
                return list;
            }
            int type = b.getInt((int) pos);
            long length = Integer.toUnsignedLong(b.getInt((int) pos + 4));
            if (type == HeaderExtension.END) {
                return list;
            }
            if (length > end - pos - 8) {
                throw FormatException.invalid("header extension " + Hex.of(type & 0xffffffffL) + " at "
                        + Hex.of(pos) + " claims " + length + " bytes, more than the header area holds"
                        + " (header extension too large)");
            }
            if (pos + 8 + length > b.limit()) {
                throw FormatException.invalid("header extension " + Hex.of(type & 0xffffffffL) + " at "
                        + Hex.of(pos) + " runs past the end of the file");
            }
            byte[] data = new byte[(int) length];
            b.get((int) pos + 8, data);
            list.add(new HeaderExtension(type, pos, data));
            pos += 8 + ((length + 7) & ~7L);
        }
    }
}
