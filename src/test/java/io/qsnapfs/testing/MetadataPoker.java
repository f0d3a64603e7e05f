package io.qsnapfs.testing;

import io.qsnapfs.format.RefcountBlock;
import java.nio.file.Path;

/**
 * Plants faults in an image's metadata for tests: a {@link TableWalk} that also writes. It finds
 * L1/L2 entries and stored refcounts the way the spec places them, independently of the engine
 * under test, and writes through {@link Poke} (raw words at a byte offset, the file's length).
 */
public final class MetadataPoker extends TableWalk {
    private MetadataPoker(Path image) {
        super(image);
    }

    /** A poker for {@code image}; its header is read now, the tables whenever asked. */
    public static MetadataPoker of(Path image) {
        return new MetadataPoker(image);
    }

    /** Overwrites the stored refcount of a host cluster; its refcount block must exist. */
    public void setStoredRefcount(long cluster, long value) {
        long block = refcountBlock(cluster);
        if (block == 0) {
            throw new IllegalStateException("no refcount block for cluster " + cluster);
        }
        byte[] b = Poke.readBytes(image(), block, (int) clusterSize());
        RefcountBlock.set(b, header().refcountOrder(), refcountIndex(cluster), value);
        Poke.bytes(image(), block, b);
    }
}
