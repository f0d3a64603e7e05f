package io.qsnapfs.engine.check;

import java.util.Arrays;

/**
 * The reference counts a consistency check rebuilds from the metadata: one saturating counter
 * per host cluster, indexed by cluster number.
 *
 * <p>Counts up to 254 live in one byte per cluster; a cluster referenced more often keeps the
 * marker 255 there and its full count in a page of longs allocated on first need (pages of 4096
 * clusters). An image whose clusters are mostly referenced a few times thus costs about one byte
 * per host cluster, and an image where every cluster is shared by hundreds of snapshots still
 * counts at array speed.
 */
final class ClusterTally implements ReferenceCounter {
    private static final int PAGE_BITS = 12;
    private static final int PAGE_MASK = (1 << PAGE_BITS) - 1;
    private static final int OVERFLOW = 255;
    /** Largest array Java can allocate, with some headroom. */
    static final long MAX_CLUSTERS = Integer.MAX_VALUE - 64;

    private byte[] low;
    private long[][] high;
    private int size;

    ClusterTally(long clusters) {
        if (clusters < 0 || clusters > MAX_CLUSTERS) {
            throw new IllegalArgumentException("cannot tally " + clusters + " clusters");
        }
        this.size = (int) clusters;
        this.low = new byte[size];
        this.high = new long[pageCount(size)][];
    }

    private static int pageCount(long clusters) {
        return (int) ((clusters + PAGE_MASK) >>> PAGE_BITS);
    }

    /** Number of clusters tracked. */
    long size() {
        return size;
    }

    /** The count of cluster {@code i} (0 when beyond {@link #size()}). */
    long get(long i) {
        if (i >= size) {
            return 0;
        }
        int idx = (int) i;
        int v = low[idx] & 0xff;
        if (v < OVERFLOW) {
            return v;
        }
        return high[idx >>> PAGE_BITS][idx & PAGE_MASK];
    }

    /**
     * Adds one to cluster {@code i}, growing the tally when {@code i} lies past its end.
     *
     * @param max the largest count the image's refcount width can hold (-1 = 2^64 - 1)
     * @return false, leaving the count unchanged, when it already is {@code max}
     */
    @Override
    public boolean increment(long i, long max) {
        if (i >= size) {
            grow(i + 1);
        }
        int idx = (int) i;
        int v = low[idx] & 0xff;
        if (v < OVERFLOW) {
            if (v == max) {
                return false;
            }
            if (v + 1 < OVERFLOW) {
                low[idx] = (byte) (v + 1);
            } else {
                low[idx] = (byte) OVERFLOW;
                page(idx)[idx & PAGE_MASK] = v + 1;
            }
            return true;
        }
        long[] page = high[idx >>> PAGE_BITS];
        long c = page[idx & PAGE_MASK];
        if (c == max) {
            return false;
        }
        page[idx & PAGE_MASK] = c + 1;
        return true;
    }

    private long[] page(int idx) {
        long[] p = high[idx >>> PAGE_BITS];
        if (p == null) {
            p = new long[1 << PAGE_BITS];
            high[idx >>> PAGE_BITS] = p;
        }
        return p;
    }

    private void grow(long clusters) {
        if (clusters > MAX_CLUSTERS) {
            throw new IllegalArgumentException("cannot tally " + clusters + " clusters");
        }
        size = (int) clusters;
        low = Arrays.copyOf(low, size);
        high = Arrays.copyOf(high, pageCount(size));
    }
}
