package io.qsnapfs.engine.read;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;

/**
 * What a guest cluster, or with extended L2 entries one subcluster of it, reads according to its L2
 * entry, checked as the reader checks it before it reads: the one classification that translation
 * ({@link Qcow2View}) and comparison ({@link Diff}) share. Standard entries follow {@link
 * L2Entry#kind}: compressed; the zero flag reads zeros whether a cluster is preallocated or not
 * (corrupt in a version 2 image); a host offset is data; none falls through to the backing chain.
 * With extended L2 entries the bitmap decides per subcluster: zero, data (only in an allocated
 * cluster) or unallocated; an allocated cluster with a subcluster both data and zero, or an
 * unallocated one with a data subcluster, is corrupt. A data offset must be cluster aligned.
 */
final class ClusterReads {
    /** What a (sub)cluster reads. */
    enum Reads {
        /** Whatever the backing chain reads there (zeros without one). */
        UNALLOCATED,
        /** Zeros. */
        ZERO,
        /** The bytes of a host cluster. */
        DATA,
        /** A compressed cluster, decompressed. */
        COMPRESSED
    }

    private final String image;
    private final boolean extended;
    private final boolean dataFile;
    private final boolean version2;
    private final long clusterMask;

    ClusterReads(String image, QcowHeader header, boolean dataFile) {
        this.image = image;
        this.extended = header.hasExtendedL2();
        this.dataFile = dataFile;
        this.version2 = header.version() < 3;
        this.clusterMask = (1L << header.clusterBits()) - 1;
    }

    /**
     * What subcluster {@code sc} (any, without extended L2 entries) of entry {@code j}, {@code
     * entry} with its {@code bitmap} (0 without extended L2 entries), of the L2 table at {@code l2}
     * reads.
     *
     * @throws ImageException CORRUPT for an entry the reader refuses, naming the table and entry
     */
    Reads of(long entry, long bitmap, int sc, long l2, int j) {
        if (L2Entry.isCompressed(entry)) {
            return Reads.COMPRESSED;
        }
        boolean allocated = L2Entry.isAllocated(entry, dataFile);
        if (!extended) {
            if ((entry & L2Entry.ZERO) != 0) {
                if (version2) {
                    throw ImageException.corrupt(image, "L2 table at " + Hex.of(l2) + " entry " + j
                            + " has the zero flag, which a version 2 image cannot have");
                }
                return Reads.ZERO;
            }
            return allocated ? data(entry, l2, j) : Reads.UNALLOCATED;
        }
        if (allocated ? ((bitmap >>> 32) & bitmap) != 0 : (bitmap & L2Entry.BITMAP_ALL_ALLOC) != 0) {
            throw ImageException.corrupt(image, "L2 table at " + Hex.of(l2) + " entry " + j
                    + " has an invalid subcluster bitmap " + Hex.of(bitmap));
        }
        if (L2Entry.subclusterZero(bitmap, sc)) {
            return Reads.ZERO;
        }
        return allocated && L2Entry.subclusterAllocated(bitmap, sc) ? data(entry, l2, j) : Reads.UNALLOCATED;
    }

    private Reads data(long entry, long l2, int j) {
        long host = entry & L2Entry.OFFSET_MASK;
        if ((host & clusterMask) != 0) {
            throw ImageException.corrupt(image, "L2 table at " + Hex.of(l2) + " entry " + j + " points to data at "
                    + Hex.of(host) + " that is not aligned to a cluster boundary");
        }
        return Reads.DATA;
    }
}
