package io.qsnapfs.engine.export;

/**
 * The new image's host clusters, handed out one after another from the start of the file. Every
 * cluster handed out is used by exactly one structure (the header, a data cluster, an L2 table,
 * the L1 table, a refcount block or the refcount table), so when the image is done every cluster
 * from 0 to {@link #count()} has refcount 1 and no other cluster exists.
 */
final class ClusterAllocator {
    private final int clusterBits;
    private long next;

    /** An allocator whose first cluster is cluster {@code first}; those before it are the caller's. */
    ClusterAllocator(int clusterBits, long first) {
        this.clusterBits = clusterBits;
        this.next = first;
    }

    /** The host offset of {@code count} new clusters, one after another. */
    long allocate(long count) {
        long offset = next << clusterBits;
        next += count;
        return offset;
    }

    /** The number of clusters in the file so far: the index of the next one. */
    long count() {
        return next;
    }
}
