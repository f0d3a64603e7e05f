package io.qsnapfs.engine.check;

import java.util.Arrays;

/**
 * The references one walk makes to the host clusters from {@link #low()} on, counted per cluster
 * with memory bounded whatever the size of the image: one long per reference, at most about
 * {@code capacity} of them.
 *
 * <p>References are collected as they come. When {@code capacity} are held, they are sorted and
 * the upper half of the clusters is dropped: the window's end ({@link #high()}) comes down to the
 * first cluster dropped, and references at or past it are ignored from then on. After the walk,
 * every reference to a cluster in {@code [low, high)} has been counted; a walk with a window
 * starting at {@code high} counts the next clusters. A window that never filled ends at
 * {@link Long#MAX_VALUE}: one walk was enough.
 *
 * <p>A cut never splits the references to one cluster. Should more than half of the window be
 * references to a single cluster (only a corrupt image repeats one pointer that often), the window
 * grows past {@code capacity} rather than lose them.
 */
final class ReferenceWindow implements ReferenceCounter {
    private static final int INITIAL = 1024;

    private final long low;
    private final int capacity;
    private long high = Long.MAX_VALUE;
    private long[] clusters;
    private int size;

    /** What a window reports of each cluster it counted. */
    @FunctionalInterface
    interface ClusterCount {
        void count(long cluster, int references);
    }

    ReferenceWindow(long low, int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("a window of " + capacity + " references");
        }
        this.low = low;
        this.capacity = capacity;
        this.clusters = new long[Math.min(INITIAL, capacity)];
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
        if (size == clusters.length) {
            makeRoom();
            if (cluster >= high) {
                return true;
            }
        }
        clusters[size++] = cluster;
        return true;
    }

    /** Grows up to the capacity; at the capacity, drops the upper half of the clusters. */
    private void makeRoom() {
        if (size < capacity) {
            clusters = Arrays.copyOf(clusters, (int) Math.min(capacity, 2L * size));
            return;
        }
        Arrays.sort(clusters, 0, size);
        long middle = clusters[size / 2];
        int cut = firstAbove(middle - 1);
        if (cut == 0) {
            // over half of the references name the smallest cluster: keep them all, cut above it
            cut = firstAbove(middle);
        }
        if (cut == size) {
            clusters = Arrays.copyOf(clusters, 2 * size); // every reference names one cluster
            return;
        }
        high = clusters[cut];
        size = cut;
    }

    /** The index of the first sorted cluster greater than {@code value} ({@link #size} if none). */
    private int firstAbove(long value) {
        int lo = 0;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (clusters[mid] <= value) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Tells every cluster counted, in ascending order, with its number of references. */
    void counts(ClusterCount visit) {
        Arrays.sort(clusters, 0, size);
        int i = 0;
        while (i < size) {
            int j = i + 1;
            while (j < size && clusters[j] == clusters[i]) {
                j++;
            }
            visit.count(clusters[i], j - i);
            i = j;
        }
    }
}
