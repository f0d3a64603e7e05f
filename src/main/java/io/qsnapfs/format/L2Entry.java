package io.qsnapfs.format;

/**
 * Decoding of L1 and L2 table entries. Entries are big-endian 64-bit words; with extended L2
 * entries each L2 entry is followed by a 64-bit subcluster bitmap.
 *
 * <pre>
 * L1 entry:   bits  9-55  L2 table offset (cluster aligned; 0 = no L2 table)
 *             bit  63     COPIED (refcount is exactly 1)
 * L2 entry, standard cluster (bit 62 clear):
 *             bit   0     reads as zeros (v3; reserved with extended L2)
 *             bits  9-55  host cluster offset (cluster aligned; 0 = unallocated)
 *             bit  63     COPIED
 * L2 entry, compressed cluster (bit 62 set), with x = 62 - (cluster_bits - 8):
 *             bits  0..x-1   host byte offset of the compressed data
 *             bits  x..61    additional 512-byte sectors used beyond the first
 * Extended L2 bitmap: bit n (0..31) subcluster n allocated, bit 32+n subcluster n reads as zeros.
 * </pre>
 */
public final class L2Entry {
    private L2Entry() {
    }

    public static final long COPIED = 1L << 63;
    public static final long COMPRESSED = 1L << 62;
    public static final long ZERO = 1L;
    /** Offset bits of L1 entries and of standard L2 entries. */
    public static final long OFFSET_MASK = 0x00fffffffffffe00L;
    /** Bits of an L1 entry that must be zero. */
    public static final long L1_RESERVED_MASK = 0x7f000000000001ffL;
    public static final int SUBCLUSTERS = 32;
    public static final long BITMAP_ALL_ALLOC = 0xffffffffL;

    /** The kinds of L2 entry, as QEMU tells them apart. */
    public enum Kind {
        /** No cluster: falls through to the backing file, else zeros. */
        UNALLOCATED,
        /** Zero flag, no cluster. */
        ZERO_PLAIN,
        /** Zero flag with a preallocated cluster (which it references). */
        ZERO_ALLOC,
        /** A host cluster with the data. */
        NORMAL,
        /** A compressed descriptor. */
        COMPRESSED
    }

    /**
     * The kind of a standard L2 entry. With extended L2 entries bit 0 is reserved and zeros are per
     * subcluster (the bitmap), so an entry is only normal, unallocated or compressed; with an
     * external data file, offset 0 with COPIED set is a cluster ({@link #isAllocated}).
     */
    public static Kind kind(long entry, boolean extended, boolean externalDataFile) {
        if (isCompressed(entry)) {
            return Kind.COMPRESSED;
        }
        if (!extended && (entry & ZERO) != 0) {
            return (entry & OFFSET_MASK) != 0 ? Kind.ZERO_ALLOC : Kind.ZERO_PLAIN;
        }
        return isAllocated(entry, externalDataFile) ? Kind.NORMAL : Kind.UNALLOCATED;
    }

    public static boolean isCompressed(long entry) {
        return (entry & COMPRESSED) != 0;
    }

    public static long offset(long entry) {
        return entry & OFFSET_MASK;
    }

    /**
     * True when a standard (non-compressed) entry points at a host cluster. Offset 0 normally means
     * unallocated, but it is a valid offset in an external data file, where every cluster has
     * refcount 1, so COPIED tells the two apart (as in QEMU).
     */
    public static boolean isAllocated(long entry, boolean externalDataFile) {
        return (entry & OFFSET_MASK) != 0 || (externalDataFile && (entry & COPIED) != 0);
    }

    /** Bit position where the sector count of a compressed descriptor starts. */
    public static int compressedSizeShift(int clusterBits) {
        return 62 - (clusterBits - 8);
    }

    /** The host byte offset of a compressed cluster's data. */
    public static long compressedOffset(long entry, int clusterBits) {
        return entry & ((1L << compressedSizeShift(clusterBits)) - 1);
    }

    /** The number of bytes the compressed data may span, counted from its offset. */
    public static long compressedLength(long entry, int clusterBits) {
        int shift = compressedSizeShift(clusterBits);
        long sectors = ((entry & ~COMPRESSED & ~COPIED) >>> shift) + 1;
        return sectors * 512 - (compressedOffset(entry, clusterBits) & 511);
    }

    public static boolean subclusterAllocated(long bitmap, int index) {
        return (bitmap & (1L << index)) != 0;
    }

    public static boolean subclusterZero(long bitmap, int index) {
        return (bitmap & (1L << (32 + index))) != 0;
    }
}
