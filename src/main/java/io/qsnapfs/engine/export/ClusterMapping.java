package io.qsnapfs.engine.export;

import io.qsnapfs.format.Hex;
import io.qsnapfs.format.L2Entry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The new image's cluster mapping, the spec's two-level lookup from guest clusters to host
 * clusters, built in guest order in one pass. Only the L1 table and the one L2 table the walk is
 * in are held in memory: an L2 table is written (to a new cluster after the data clusters it maps)
 * when the walk leaves its range, and the L1 table when the walk is done.
 *
 * <p>Entries are standard 64-bit entries (no extended L2): a data cluster is its host offset with
 * COPIED (bit 63: its refcount is exactly 1), a zero cluster the zero flag (bit 0) and no host
 * offset, anything else 0 (unallocated). L1 entries are an L2 table's offset with COPIED, or 0
 * for a range without an L2 table. See {@link L2Entry} for the layouts.
 */
final class ClusterMapping {
    /** L1 table bytes written at once. */
    private static final int L1_WRITE = 1 << 20;

    private final OutputFile out;
    private final ClusterAllocator clusters;
    private final int clusterBits;
    private final int l2Bits;
    private final long[] l1;
    private final long[] l2;
    private final ByteBuffer l2Bytes;
    /** The L1 index of the L2 table in memory, or -1 before the first. */
    private long l2Index = -1;
    /** The last guest cluster mapped, or -1: clusters come in increasing order. */
    private long last = -1;

    /** A mapping for a disk of {@code l1Size} L1 entries, standard L2 entries of 8 bytes. */
    ClusterMapping(OutputFile out, ClusterAllocator clusters, int clusterBits, int l1Size) {
        this.out = out;
        this.clusters = clusters;
        this.clusterBits = clusterBits;
        this.l2Bits = clusterBits - 3;
        this.l1 = new long[l1Size];
        this.l2 = new long[1 << l2Bits];
        this.l2Bytes = ByteBuffer.allocateDirect(1 << clusterBits).order(ByteOrder.BIG_ENDIAN);
    }

    /** Gives guest cluster {@code guestCluster} a new host cluster for its data, and returns its offset. */
    long data(long guestCluster) {
        select(guestCluster);
        long host = clusters.allocate(1);
        l2[index(guestCluster)] = host | L2Entry.COPIED;
        return host;
    }

    /** Makes guest cluster {@code guestCluster} read as zeros: the zero flag, no host cluster. */
    void zero(long guestCluster) {
        select(guestCluster);
        l2[index(guestCluster)] = L2Entry.ZERO;
    }

    /**
     * Writes the last L2 table and then the L1 table, in clusters of their own after everything
     * written so far, and returns the L1 table's offset (0 for a disk of size 0, which has none).
     */
    long finish() {
        writeL2();
        if (l1.length == 0) {
            return 0;
        }
        long bytes = (long) l1.length * 8;
        long offset = clusters.allocate((bytes + (1L << clusterBits) - 1) >>> clusterBits);
        ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(bytes, L1_WRITE)).order(ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < l1.length; ) {
            int n = Math.min(l1.length - i, buffer.capacity() / 8);
            buffer.clear();
            buffer.asLongBuffer().put(l1, i, n);
            buffer.limit(n * 8);
            out.write(offset + (long) i * 8, buffer, "L1 table at " + Hex.of(offset));
            i += n;
        }
        return offset;
    }

    /** Makes the L2 table covering {@code guestCluster} the one in memory, writing the one before. */
    private void select(long guestCluster) {
        if (guestCluster <= last) {
            throw new IllegalStateException("guest cluster " + guestCluster + " mapped after " + last);
        }
        last = guestCluster;
        long index = guestCluster >>> l2Bits;
        if (index != l2Index) {
            writeL2();
            l2Index = index;
            Arrays.fill(l2, 0);
        }
    }

    private int index(long guestCluster) {
        return (int) (guestCluster & ((1L << l2Bits) - 1));
    }

    /** Writes the L2 table in memory to a new cluster and points its L1 entry at it. */
    private void writeL2() {
        if (l2Index < 0) {
            return;
        }
        long offset = clusters.allocate(1);
        l2Bytes.clear();
        l2Bytes.asLongBuffer().put(l2);
        out.write(offset, l2Bytes, "L2 table at " + Hex.of(offset));
        l1[(int) l2Index] = offset | L2Entry.COPIED;
        l2Index = -1;
    }
}
