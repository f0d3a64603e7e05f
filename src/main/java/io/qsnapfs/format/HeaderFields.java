package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The groups of header fields that the snapshot operations and export change in place, each
 * encoded as the bytes of one write. QEMU updates the header this way (not by rewriting it), so
 * each switch from old to new metadata is a single small write inside one sector, which the disk
 * either does or does not do.
 *
 * <pre>
 * offset  bytes  fields (big-endian)                               changed by
 *   24     24    size (8), crypt_method (4, unchanged),            apply: the new active L1 table, and the
 *                l1_size (4), l1_table_offset (8)                    snapshot's size (as QEMU 7.2 resizes);
 *                                                                  export: the new image's L1 table
 *   48     12    refcount_table_offset (8), refcount_table_clusters (4)   the allocator, when the table moves;
 *                                                                  export: the new image's refcount table
 *   60     12    nb_snapshots (4), snapshots_offset (8)            create, delete
 *   72      8    incompatible_features (v3)                        export: the last write clears
 *                                                                    {@link Features#INCOMPAT_EXPORT_INCOMPLETE}
 *   88      8    autoclear_features (v3)                           the first write: unknown bits cleared
 * </pre>
 */
public final class HeaderFields {
    public static final int SIZE_OFFSET = 24;
    public static final int REFCOUNT_TABLE_OFFSET = 48;
    public static final int SNAPSHOTS_OFFSET = QcowHeader.NB_SNAPSHOTS_OFFSET;
    public static final int INCOMPATIBLE_OFFSET = 72;
    public static final int AUTOCLEAR_OFFSET = 88;

    private HeaderFields() {
    }

    /**
     * The 24 bytes from {@code size} to {@code l1_table_offset} (write at {@link #SIZE_OFFSET}):
     * the disk size and the active L1 table change together, {@code crypt_method} in between is
     * written back as it is.
     */
    public static ByteBuffer sizeAndL1Table(long size, int cryptMethod, int l1Size, long l1TableOffset) {
        return buffer(24).putLong(size).putInt(cryptMethod).putInt(l1Size).putLong(l1TableOffset).flip();
    }

    /** The 12 bytes of {@code refcount_table_offset} and {@code refcount_table_clusters}. */
    public static ByteBuffer refcountTable(long offset, int clusters) {
        return buffer(12).putLong(offset).putInt(clusters).flip();
    }

    /** The 12 bytes of {@code nb_snapshots} and {@code snapshots_offset}. */
    public static ByteBuffer snapshotTable(int count, long offset) {
        return buffer(12).putInt(count).putLong(offset).flip();
    }

    /** The 8 bytes of {@code incompatible_features}. */
    public static ByteBuffer incompatible(long bits) {
        return buffer(8).putLong(bits).flip();
    }

    /** The 8 bytes of {@code autoclear_features}. */
    public static ByteBuffer autoclear(long bits) {
        return buffer(8).putLong(bits).flip();
    }

    private static ByteBuffer buffer(int length) {
        return ByteBuffer.allocate(length).order(ByteOrder.BIG_ENDIAN);
    }
}
