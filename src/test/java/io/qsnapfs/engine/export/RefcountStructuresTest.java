package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import org.junit.jupiter.api.Test;

/** The refcount blocks and table that count every cluster, themselves included: the fixed point. */
class RefcountStructuresTest {
    @Test
    void theStructuresCountThemselvesWithNothingToSpare() {
        for (int clusterBits : new int[] {9, 12, 16}) {
            for (int order : new int[] {0, 4, 6}) {
                long perBlock = RefcountBlock.entriesPerBlock(clusterBits, order);
                long perTable = (1L << clusterBits) / 8;
                // Around every block boundary up to a few table clusters' worth of blocks.
                for (long blockCount = 1; blockCount <= 3 * perTable + 2; blockCount += blockCount < 70 ? 1 : perTable / 4) {
                    for (long delta = -3; delta <= 3; delta++) {
                        long used = Math.max(1, blockCount * perBlock + delta);
                        RefcountStructures r = RefcountStructures.after(used, clusterBits, order);
                        String what = "cluster_bits " + clusterBits + ", order " + order + ", " + used + " used";
                        assertEquals(used, r.firstBlock(), what);
                        assertTrue(r.blocks() * perBlock >= r.total(), what + ": every cluster counted");
                        assertTrue(r.tableClusters() * perTable >= r.blocks(), what + ": every block in the table");
                        assertEquals(Math.max(1, (r.blocks() + perTable - 1) / perTable), r.tableClusters(), what);
                        // No fewer blocks would do: with one less they could not count everything.
                        long fewer = r.blocks() - 1;
                        long fewerTable = Math.max(1, (fewer + perTable - 1) / perTable);
                        assertTrue(fewer * perBlock < used + fewer + fewerTable, what + ": " + fewer + " blocks would do");
                    }
                }
            }
        }
    }

    @Test
    void theLayoutFollowsTheOtherClusters() {
        RefcountStructures r = RefcountStructures.after(1000, 9, 4);
        // 256 refcounts of 16 bits per 512-byte block: 1000 + 4 blocks + 1 table cluster = 1005 clusters.
        assertEquals(4, r.blocks());
        assertEquals(1, r.tableClusters());
        assertEquals(1005, r.total());
        assertEquals(1004L * 512, r.tableOffset());
        assertEquals(512, r.tableBytes());
        // 1020 used: 4 blocks count 1024 clusters, too few for 1020 + 4 + 1; a fifth counts itself.
        assertEquals(5, RefcountStructures.after(1020, 9, 4).blocks());
    }

    @Test
    void aTableBeyondTheFormatsLimitIsVisible() {
        // 512-byte clusters: 8 MiB of table names 2^20 blocks of 256 clusters each.
        assertTrue(RefcountStructures.after(1L << 28, 9, 4).tableBytes() > QcowHeader.MAX_REFTABLE_BYTES);
        assertTrue(RefcountStructures.after((1L << 28) - (1L << 21), 9, 4).tableBytes()
                <= QcowHeader.MAX_REFTABLE_BYTES);
    }
}
