package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.Hex;
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
 * <p>Memory: one counter per cluster of every refcount range a removal touches, in arrays made on
 * first use: at most twice the image's refcount metadata.
 */
final class PendingRelease {
    private final String name;
    private final RefcountEditor refcounts;
    private final int blockBits;
    private final int clusterBits;
    /** Removals per cluster, by refcount range; null for a range nothing is removed from. */
    private int[][] counts = new int[0][];

    PendingRelease(String name, RefcountEditor refcounts, int blockBits, int clusterBits) {
        this.name = name;
        this.refcounts = refcounts;
        this.blockBits = blockBits;
        this.clusterBits = clusterBits;
    }

    /**
     * Counts one reference to {@code cluster} to remove.
     *
     * @throws ImageException CORRUPT when its refcount would drop below 0
     */
    void remove(long cluster) {
        long stored = refcounts.get(cluster);
        if (stored == 0) {
            throw refcountBelowZero(cluster); // also every cluster past the refcount table: arrays stay bounded
        }
        long range = cluster >>> blockBits;
        if (range >= counts.length) {
            counts = Arrays.copyOf(counts, (int) Math.max(range + 1, counts.length * 2L));
        }
        int[] c = counts[(int) range];
        if (c == null) {
            c = new int[1 << blockBits];
            counts[(int) range] = c;
        }
        int index = (int) (cluster & ((1L << blockBits) - 1));
        if (Long.compareUnsigned(stored, c[index]) <= 0) {
            throw refcountBelowZero(cluster);
        }
        c[index]++;
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
            int[] c = counts[t];
            if (c == null) {
                continue;
            }
            refcounts.subtract((long) t << blockBits, c);
        }
        counts = new int[0][];
    }

    private ImageException refcountBelowZero(long cluster) {
        return ImageException.corrupt(name, "the refcount of cluster " + Hex.of(cluster << clusterBits)
                + " would drop below 0; run 'qemu-img check -r all' first");
    }
}
