package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read-ahead hands the walk the table it would have read itself at each L1 index, or nothing
 * (the walk reads then): never a wrong table, whatever the two threads' timing.
 */
class L2ReadAheadTest {
    private static final int ENTRIES = 64; // 512-byte tables

    @TempDir
    Path dir;

    /** A file of {@code tables} 512-byte tables, word j of table t holding t * 1000 + j. */
    private ImageFile file(int tables) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(tables * ENTRIES * 8);
        for (int t = 0; t < tables; t++) {
            for (int j = 0; j < ENTRIES; j++) {
                b.putLong(t * 1000L + j);
            }
        }
        Path p = dir.resolve("tables");
        Files.write(p, b.array());
        return ImageFile.over(PositionalFile.wrap(p, FileChannel.open(p, StandardOpenOption.READ)));
    }

    private static long[] table(long offset) {
        long t = offset / (ENTRIES * 8);
        long[] e = new long[ENTRIES];
        for (int j = 0; j < ENTRIES; j++) {
            e[j] = t * 1000L + j;
        }
        return e;
    }

    @Test
    void theWalkGetsTheTableOfEachIndexOrReadsItItself() throws IOException {
        int tables = 500;
        try (ImageFile f = file(tables)) {
            long[] offsets = new long[2 * tables];
            for (int i = 0; i < offsets.length; i += 2) { // every other index has none; some tables twice
                offsets[i] = (long) (1 + (i * 7) % (tables - 1)) * ENTRIES * 8;
            }
            try (L2ReadAhead ahead = new L2ReadAhead(f, offsets, (long) tables * ENTRIES * 8, ENTRIES, 3)) {
                for (int i = 0; i < offsets.length; i += i % 10 == 0 ? 2 : 1) { // passes some indexes by
                    long[] got = ahead.take(i);
                    if (offsets[i] == 0) {
                        assertNull(got, "index " + i + " names no table");
                    } else if (got != null) {
                        assertArrayEquals(table(offsets[i]), got, "table at index " + i);
                    }
                }
            }
        }
    }

    @Test
    void aTableItCannotReadIsLeftToTheWalk() throws IOException {
        try (ImageFile f = file(4)) {
            long past = 4L * ENTRIES * 8;
            long[] offsets = {512, past, 1024};
            try (L2ReadAhead ahead = new L2ReadAhead(f, offsets, past, ENTRIES, 8)) {
                long[] first = ahead.take(0);
                if (first != null) {
                    assertArrayEquals(table(512), first);
                }
                assertNull(ahead.take(1), "the walk reads it itself, and meets the error");
                long[] third = ahead.take(2);
                if (third != null) {
                    assertArrayEquals(table(1024), third);
                }
            }
        }
    }
}
