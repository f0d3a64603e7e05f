package io.qsnapfs.engine.export;

import io.qsnapfs.format.Hex;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The refcount blocks and the refcount table of a new image whose every cluster has refcount 1
 * ({@link ClusterAllocator}), placed after all other clusters: first the blocks, then the table.
 * The layouts are {@link RefcountBlock}'s and {@link RefcountTable}'s.
 *
 * <p>They count themselves too, which makes their number a fixed point: {@code used} clusters come
 * before them, each block counts {@code E = cluster_size * 8 / refcount_bits} clusters and each
 * table cluster names {@code cluster_size / 8} blocks, so the smallest {@code blocks} with
 * {@code blocks = ceil((used + blocks + table) / E)}, {@code table = max(1, ceil(blocks / (cluster_size
 * / 8)))}. Starting from the blocks the other clusters need, each step can only add clusters, and
 * at most one block per block added, so the search ends after a step or two.
 *
 * @param firstBlock    the cluster index of the first refcount block
 * @param blocks        the number of refcount blocks
 * @param tableClusters the number of clusters of the refcount table, which follows the blocks
 * @param clusterBits   the image's cluster_bits
 * @param refcountOrder the image's refcount_order
 */
record RefcountStructures(long firstBlock, long blocks, long tableClusters, int clusterBits, int refcountOrder) {
    /** Refcount block bytes written at once (the blocks before the last are all alike). */
    private static final int BLOCK_WRITE = 1 << 20;

    /** The structures for an image of {@code used} clusters (at least the header) before them. */
    static RefcountStructures after(long used, int clusterBits, int refcountOrder) {
        int blockBits = RefcountBlock.blockBits(clusterBits, refcountOrder);
        int tableBits = clusterBits - 3;
        long blocks = ceilShift(used, blockBits);
        while (true) {
            long table = Math.max(1, ceilShift(blocks, tableBits));
            long needed = ceilShift(used + blocks + table, blockBits);
            if (needed == blocks) {
                return new RefcountStructures(used, blocks, table, clusterBits, refcountOrder);
            }
            blocks = needed;
        }
    }

    /** The number of clusters in the image: every one counted, these structures included. */
    long total() {
        return firstBlock + blocks + tableClusters;
    }

    long tableOffset() {
        return (firstBlock + blocks) << clusterBits;
    }

    long tableBytes() {
        return tableClusters << clusterBits;
    }

    /** Writes the blocks and the table at their places; the clusters before them must be written already. */
    void write(OutputFile out) {
        int clusterSize = 1 << clusterBits;
        long perBlock = RefcountBlock.entriesPerBlock(clusterBits, refcountOrder);
        long total = total();
        // Every block but the last counts E clusters in use: one pattern, written many at a time.
        if (blocks > 1) {
            byte[] full = block(clusterSize, (int) perBlock);
            int many = (int) Math.min(blocks - 1, Math.max(1, BLOCK_WRITE / clusterSize));
            ByteBuffer pattern = ByteBuffer.allocate(many * clusterSize);
            for (int i = 0; i < many; i++) {
                pattern.put(full);
            }
            for (long b = 0; b < blocks - 1; ) {
                int n = (int) Math.min(many, blocks - 1 - b);
                long offset = (firstBlock + b) << clusterBits;
                out.write(offset, pattern.clear().limit(n * clusterSize), "refcount block at " + Hex.of(offset));
                b += n;
            }
        }
        long lastOffset = (firstBlock + blocks - 1) << clusterBits;
        byte[] last = block(clusterSize, (int) (total - (blocks - 1) * perBlock));
        out.write(lastOffset, ByteBuffer.wrap(last), "refcount block at " + Hex.of(lastOffset));

        // The whole table, zeros after the last entry: it ends the file, which must hold all of it.
        ByteBuffer table = ByteBuffer.allocate((int) tableBytes()).order(ByteOrder.BIG_ENDIAN);
        for (long b = 0; b < blocks; b++) {
            table.putLong((firstBlock + b) << clusterBits);
        }
        out.write(tableOffset(), table.clear(), "refcount table at " + Hex.of(tableOffset()));
    }

    /** A refcount block whose first {@code inUse} entries are 1 and the rest 0. */
    private byte[] block(int clusterSize, int inUse) {
        byte[] block = new byte[clusterSize];
        for (int i = 0; i < inUse; i++) {
            RefcountBlock.set(block, refcountOrder, i, 1);
        }
        return block;
    }

    private static long ceilShift(long value, int bits) {
        return (value + (1L << bits) - 1) >>> bits;
    }
}
