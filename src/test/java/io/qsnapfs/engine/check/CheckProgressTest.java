package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The check's progress: the total announced is the metadata it reads (every L1 table's L2 tables,
 * the active ones twice, and a refcount block's worth of the file at a time), reports only move
 * forward and end at that total; and the result is the same as without a progress.
 */
class CheckProgressTest {
    @TempDir
    Path dir;

    @Test
    void reportsMoveForwardToTheMetadataRead() {
        Path img = Qemu.create(dir.resolve("p.qcow2"), "64M", "cluster_size=4096");
        Qemu.io(img, "write -P 1 0 20M", "write -P 2 40M 1M");
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 3 0 3M", "discard 40M 1M");
        Qemu.snapshot(img, "b");
        Qemu.io(img, "write -P 4 8M 1M");

        List<long[]> reports = new ArrayList<>();
        CheckResult withProgress = ConsistencyCheck.run(img, (done, total) -> reports.add(new long[] {done, total}));
        CheckResult without = ConsistencyCheck.run(img);
        assertEquals(without.toString(), withProgress.toString());

        TableWalk walk = TableWalk.of(img);
        long l2Reads = 0;
        List<long[]> tables = walk.l1Tables();
        for (int t = 0; t < tables.size(); t++) {
            ByteBuffer l1 = ByteBuffer.wrap(Poke.readBytes(img, tables.get(t)[0], (int) tables.get(t)[1] * 8));
            for (int i = 0; i < tables.get(t)[1]; i++) {
                if ((l1.getLong(i * 8) & L2Entry.OFFSET_MASK) != 0) {
                    l2Reads += t == 0 ? 2 : 1;
                }
            }
        }
        long perBlock = RefcountBlock.entriesPerBlock(walk.clusterBits, walk.header().refcountOrder());
        long fileClusters = (walk.fileSize() + walk.clusterSize() - 1) / walk.clusterSize();
        long expected = (l2Reads + (fileClusters + perBlock - 1) / perBlock) * walk.clusterSize();

        assertTrue(reports.size() > 10, "reports: " + reports.size());
        long previous = 0;
        for (long[] r : reports) {
            assertEquals(expected, r[1], "total");
            assertTrue(r[0] >= previous && r[0] <= r[1], r[0] + " after " + previous);
            previous = r[0];
        }
        assertEquals(expected, previous, "the last report is the whole");
    }
}
