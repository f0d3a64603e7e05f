package io.qsnapfs.engine.check;

/**
 * Where a walk of the metadata counts what it finds: one call per host cluster per pointer, as
 * {@link ConsistencyCheck} counts references. The whole check counts every cluster of the file
 * ({@link ClusterTally}); the count of one snapshot's references keeps only the clusters it reaches
 * ({@link ReferenceWindow}).
 */
interface ReferenceCounter {
    /**
     * Counts one more reference to host cluster {@code cluster}.
     *
     * @param max the largest count the image's refcount width can hold (-1 = 2^64 - 1)
     * @return false, counting nothing, when the count already is {@code max}
     */
    boolean increment(long cluster, long max);
}
