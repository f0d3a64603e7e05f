package io.qsnapfs.format;

/**
 * Feature bits of the v3 header (bytes 72-95) and what we know about them.
 */
public final class Features {
    private Features() {
    }

    /** Incompatible bit 0: refcounts may be inaccurate (lazy refcounts in use). */
    public static final long INCOMPAT_DIRTY = 1L;
    /** Incompatible bit 1: the image was found corrupt; it may only be opened read-only. */
    public static final long INCOMPAT_CORRUPT = 1L << 1;
    /** Incompatible bit 2: guest data lives in an external data file. */
    public static final long INCOMPAT_DATA_FILE = 1L << 2;
    /** Incompatible bit 3: header byte 104 names the compression type. */
    public static final long INCOMPAT_COMPRESSION = 1L << 3;
    /** Incompatible bit 4: L2 entries are 128 bits wide with 32 subclusters. */
    public static final long INCOMPAT_EXTL2 = 1L << 4;
    /**
     * Incompatible bit 63, not in the spec but our own: set while qsnapfs writes a new image and
     * cleared by the write that completes it. No reader knows the bit (it is not in {@link
     * #INCOMPAT_KNOWN}), so a half-written image is refused instead of read with wrong bytes; the
     * image's feature name table calls it {@link #EXPORT_INCOMPLETE_NAME}, which QEMU and this
     * program show in their refusal.
     */
    public static final long INCOMPAT_EXPORT_INCOMPLETE = 1L << 63;
    /** The feature name table's name for {@link #INCOMPAT_EXPORT_INCOMPLETE}. */
    public static final String EXPORT_INCOMPLETE_NAME = "qsnapfs export incomplete";
    /** All incompatible bits this implementation understands. */
    public static final long INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE
            | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

    /** Compatible bit 0: lazy refcounts. */
    public static final long COMPAT_LAZY_REFCOUNTS = 1L;

    /** Autoclear bit 0: the bitmaps extension is consistent. */
    public static final long AUTOCLEAR_BITMAPS = 1L;
    /** Autoclear bit 1: the external data file is a valid raw image of the guest disk. */
    public static final long AUTOCLEAR_DATA_FILE_RAW = 1L << 1;

    /** Compression type byte values (header byte 104). */
    public static final int COMPRESSION_ZLIB = 0;
    public static final int COMPRESSION_ZSTD = 1;

    public static String compressionName(int type) {
        return switch (type) {
            case COMPRESSION_ZLIB -> "zlib";
            case COMPRESSION_ZSTD -> "zstd";
            default -> "unknown (" + type + ")";
        };
    }

    /** The conventional name of an incompatible feature bit, for messages. */
    public static String incompatibleName(int bit) {
        return switch (bit) {
            case 0 -> "dirty bit";
            case 1 -> "corrupt bit";
            case 2 -> "external data file";
            case 3 -> "compression type";
            case 4 -> "extended L2 entries";
            default -> "unknown incompatible feature bit " + bit;
        };
    }
}
