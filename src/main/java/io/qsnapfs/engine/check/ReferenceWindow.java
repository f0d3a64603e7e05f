package io.qsnapfs.engine.check;

import java.util.Arrays;

/**
 * The references one walk makes to the host clusters from {@link #low()} on, counted per cluster
 * with memory bounded whatever the image holds: at most {@code capacity} longs, half of them
 * references not yet sorted, half (cluster, count) pairs.
 *
 * <p>References are collected as they come. When the unsorted half is full, it is sorted and
 * merged into the pairs, so a cluster named a million times still takes one pair. When there are
 * more distinct clusters than pairs fit, the upper half of them is dropped: the window's end
 * ({@link #high()}) comes down to the first cluster dropped, and references at or past it are
 * ignored from then on. After the walk, every reference to a cluster in {@code [low, high)} has
 * been counted; a walk with a window starting at {@code high} counts the next clusters. A window
 * that never had to drop ends at {@link Long#MAX_VALUE}: one walk was enough.
 */
final class ReferenceWindow implements ReferenceCounter {
    private final long low;
    private long high = Long.MAX_VALUE;
    /** References not yet merged. */
    private final long[] pending;
    private int pendingSize;
    /** Distinct clusters in ascending order, and their counts. */
    private long[] clusters;
    private long[] counts;
    private int size;
    private final int pairs;

    /** What a window reports of each cluster it counted. */
    @FunctionalInterface
    interface ClusterCount {
        void count(long cluster, long references);
    }

    ReferenceWindow(long low, int capacity) {
        if (capacity < 4) {
            throw new IllegalArgumentException("a window of " + capacity + " references");
        }
        this.low = low;
        this.pending = new long[capacity / 2];
        this.pairs = capacity / 4;
        this.clusters = new long[0];
        this.counts = new long[0];
    }

    /** The first cluster counted. */
    long low() {
        return low;
    }

    /** The end of the clusters counted (exclusive); {@link Long#MAX_VALUE} when nothing was cut. */
    long high() {
        return high;
    }

    /** Counts {@code cluster} if it lies in the window; never refuses ({@code max} does not apply). */
    @Override
    public boolean increment(long cluster, long max) {
        if (cluster < low || cluster >= high) {
            return true;
        }
        if (pendingSize == pending.length) {
            merge();
            if (cluster >= high) {
                return true;
            }
        }
        pending[pendingSize++] = cluster;
        return true;
    }

    /** Sorts the pending references into the pairs; drops the upper half of the clusters when they do not fit. */
    private void merge() {
        Arrays.sort(pending, 0, pendingSize);
        long[] mergedClusters = new long[size + pendingSize];
        long[] mergedCounts = new long[size + pendingSize];
        int n = 0;
        int i = 0;
        int j = 0;
        while (i < size || j < pendingSize) {
            long c = j == pendingSize || (i < size && clusters[i] <= pending[j]) ? clusters[i] : pending[j];
            long count = 0;
            while (i < size && clusters[i] == c) {
                count += counts[i++];
            }
            while (j < pendingSize && pending[j] == c) {
                count++;
                j++;
            }
            mergedClusters[n] = c;
            mergedCounts[n++] = count;
        }
        pendingSize = 0;
        if (n > pairs) {
            int keep = Math.max(1, pairs / 2);
            high = mergedClusters[keep];
            n = keep;
        }
        clusters = Arrays.copyOf(mergedClusters, n);
        counts = Arrays.copyOf(mergedCounts, n);
        size = n;
    }

    /** Tells every cluster counted, in ascending order, with its number of references. */
    void counts(ClusterCount visit) {
        merge();
        for (int i = 0; i < size; i++) {
            visit.count(clusters[i], counts[i]);
        }
    }
}
