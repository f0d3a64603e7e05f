package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.RefcountBlock;
import java.util.Arrays;

/**
 * References an operation will remove once its commit write is on disk, worked out before its first
 * write. A release found to be impossible only after the switch (a refcount that would drop below
 * 0, a malformed table) would leave the request done and yet reported failed; worked out first,
 * it is refused with the file untouched. Nothing changes in the {@link RefcountEditor} until
 * {@link #apply()}, so the allocator meanwhile never hands out a cluster that is still referenced
 * on disk.
 *
 * <p>Each removal is checked against the refcount as it is, less the removals already counted
 * here: refcounts only grow between the check and {@link #apply()} (new references, allocations),
 * so the check still holds then.
 *
 * <p>Memory: a counter per cluster of every refcount range a removal touches, packed like a
 * refcount block of the image ({@link RefcountBlock}: a count never exceeds the refcount it is
 * taken from, so it fits the same width), made on first use: at most the image's refcount
 * metadata again.
 */
final class PendingRelease {
    private final RefcountEditor refcounts;
    private final int blockBits;
    private final int clusterBits;
    private final int order;
    /** Removals per cluster, by refcount range, packed as refcount blocks; null where there are none. */
    private byte[][] counts = new byte[0][];

    PendingRelease(RefcountEditor refcounts, int clusterBits, int order) {
        this.refcounts = refcounts;
        this.clusterBits = clusterBits;
        this.order = order;
        this.blockBits = RefcountBlock.blockBits(clusterBits, order);
    }

    /**
     * Counts one reference to {@code cluster} to remove.
     *
     * @throws ImageException CORRUPT when its refcount would drop below 0
     */
    void remove(long cluster) {
        long stored = refcounts.get(cluster);
        if (stored == 0) {
            throw refcounts.belowZero(cluster); // also every cluster past the refcount table: arrays stay bounded
        }
        long range = cluster >>> blockBits;
        if (range >= counts.length) {
            counts = Arrays.copyOf(counts, (int) Math.max(range + 1, counts.length * 2L));
        }
        byte[] c = counts[(int) range];
        if (c == null) {
            c = new byte[1 << clusterBits];
            counts[(int) range] = c;
        }
        int index = (int) (cluster & ((1L << blockBits) - 1));
        long count = RefcountBlock.get(c, order, index);
        if (Long.compareUnsigned(stored, count) <= 0) {
            throw refcounts.belowZero(cluster);
        }
        RefcountBlock.set(c, order, index, count + 1); // at most stored, which fits the width
    }

    /** Counts one reference fewer to every cluster {@code [offset, offset + length)} touches. */
    void removeRange(long offset, long length) {
        if (length <= 0) {
            return;
        }
        for (long c = offset >>> clusterBits, last = (offset + length - 1) >>> clusterBits; c <= last; c++) {
            remove(c);
        }
    }

    /** Removes every counted reference from the editor's refcounts (in memory). */
    void apply() {
        for (int t = 0; t < counts.length; t++) {
            byte[] c = counts[t];
            if (c == null) {
                continue;
            }
            refcounts.subtract((long) t << blockBits, c);
        }
        counts = new byte[0][];
    }
}
