package io.qsnapfs.format;

/**
 * Entries of the refcount table, the first level of the two-level refcount structure.
 *
 * <pre>
 * The table starts at refcount_table_offset (header bytes 48-55, cluster aligned) and spans
 * refcount_table_clusters (header bytes 56-59) contiguous clusters, i.e.
 * refcount_table_clusters * cluster_size / 8 entries. Each entry is a big-endian 64-bit word:
 *
 *   bits 0 - 8   reserved, must be zero
 *   bits 9 - 63  offset of the refcount block (one cluster, cluster aligned);
 *                0 = no block yet: every cluster it would describe has refcount 0
 *
 * The refcount of the host cluster with index c (byte offset c * cluster_size) is entry
 * c % E of the block named by table entry c / E, where E = cluster_size * 8 / refcount_bits
 * (see RefcountBlock). Clusters whose table index lies past the end of the table have
 * refcount 0.
 * </pre>
 */
public final class RefcountTable {
    private RefcountTable() {
    }

    /** Offset bits of a table entry. */
    public static final long OFFSET_MASK = 0xfffffffffffffe00L;
    /** Bits that must be zero. */
    public static final long RESERVED_MASK = 0x1ffL;

    /** The refcount block offset named by an entry (0 = none). */
    public static long blockOffset(long entry) {
        return entry & OFFSET_MASK;
    }

    public static boolean hasReservedBits(long entry) {
        return (entry & RESERVED_MASK) != 0;
    }

    /** Number of entries in a table of {@code clusters} clusters. */
    public static long entries(long clusters, int clusterBits) {
        return clusters << (clusterBits - 3);
    }
}
