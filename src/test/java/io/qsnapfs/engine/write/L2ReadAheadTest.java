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
 * The read-ahead hands the walk the tables it would have read itself, in the walk's order, or
 * nothing (the walk reads then): never a wrong table, whatever the two threads' timing.
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

    private static long[] table(int t) {
        long[] e = new long[ENTRIES];
        for (int j = 0; j < ENTRIES; j++) {
            e[j] = t * 1000L + j;
        }
        return e;
    }

    @Test
    void theWalkGetsEachTableInItsOrderOrReadsItItself() throws IOException {
        int tables = 500;
        try (ImageFile f = file(tables)) {
            long[] offsets = new long[tables];
            for (int i = 0; i < tables; i++) {
                offsets[i] = (long) ((i * 7) % tables) * ENTRIES * 8; // not ascending
            }
            try (L2ReadAhead ahead = new L2ReadAhead(f, offsets, (long) tables * ENTRIES * 8, ENTRIES, 3)) {
                for (int i = 0; i < tables; i++) {
                    if (i % 50 == 0) {
                        assertNull(ahead.take(offsets[(i + 1) % tables]), "not the walk's next table");
                    }
                    long[] got = ahead.take(offsets[i]);
                    if (got != null) {
                        assertArrayEquals(table((i * 7) % tables), got, "table at position " + i);
                    }
                }
                assertNull(ahead.take(0), "past the last table");
            }
        }
    }

    @Test
    void aTableItCannotReadIsLeftToTheWalk() throws IOException {
        try (ImageFile f = file(4)) {
            long past = 4L * ENTRIES * 8;
            long[] offsets = {0, past, 512};
            try (L2ReadAhead ahead = new L2ReadAhead(f, offsets, past, ENTRIES, 8)) {
                long[] first = ahead.take(0);
                if (first != null) {
                    assertArrayEquals(table(0), first);
                }
                assertNull(ahead.take(past), "the walk reads it itself, and meets the error");
                long[] third = ahead.take(512);
                if (third != null) {
                    assertArrayEquals(table(1), third);
                }
            }
        }
    }
}
