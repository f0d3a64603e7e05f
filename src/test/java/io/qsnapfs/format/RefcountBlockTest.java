package io.qsnapfs.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Packing of refcount entries; the images QEMU writes are checked in RefcountsTest. */
class RefcountBlockTest {
    @Test
    void subByteEntriesStartAtTheLeastSignificantBit() {
        assertEntries(new byte[] {0x1f}, 0, 1, 1, 1, 1, 1, 0, 0, 0);
        assertEntries(new byte[] {0x1b}, 1, 3, 2, 1, 0);
        assertEntries(new byte[] {0x21}, 2, 1, 2);
        assertEntries(new byte[] {(byte) 0x80, 0x01}, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0);
    }

    @Test
    void wideEntriesAreBigEndian() {
        assertEntries(new byte[] {(byte) 0xfe}, 3, 254);
        assertEntries(new byte[] {0, 1, 1, 0}, 4, 1, 256);
        assertEntries(new byte[] {0, 0, 1, 2, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}, 5, 258, 0xffffffffL);
        byte[] b = new byte[16];
        b[7] = 5;
        for (int i = 8; i < 16; i++) {
            b[i] = (byte) 0xff;
        }
        assertEntries(b, 6, 5, -1L);
    }

    @Test
    void setChangesOnlyItsEntry() {
        Random r = new Random(1);
        for (int order = 0; order <= 6; order++) {
            int entries = 4096 * 8 >> order;
            long[] values = new long[entries];
            byte[] block = new byte[4096];
            long max = RefcountBlock.maxRefcount(order);
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < entries; i++) {
                    int k = r.nextInt(entries);
                    long v = order == 6 ? r.nextLong() : r.nextLong() & max;
                    values[k] = v;
                    RefcountBlock.set(block, order, k, v);
                }
                for (int i = 0; i < entries; i++) {
                    assertEquals(values[i], RefcountBlock.get(block, order, i), "order " + order + " entry " + i);
                }
            }
        }
    }

    @Test
    void limitsFollowTheWidth() {
        assertEquals(1, RefcountBlock.maxRefcount(0));
        assertEquals(3, RefcountBlock.maxRefcount(1));
        assertEquals(65535, RefcountBlock.maxRefcount(4));
        assertEquals(0xffffffffL, RefcountBlock.maxRefcount(5));
        assertEquals(-1L, RefcountBlock.maxRefcount(6));
        assertEquals(32768, RefcountBlock.entriesPerBlock(16, 4));
        assertEquals(4096, RefcountBlock.entriesPerBlock(9, 0));
        assertThrows(IllegalArgumentException.class, () -> RefcountBlock.set(new byte[1], 0, 0, 2));
        assertThrows(IllegalArgumentException.class, () -> RefcountBlock.set(new byte[2], 4, 0, 65536));
    }

    @Test
    void tableEntriesKeepOffsetAndReservedBitsApart() {
        assertEquals(0x50000L, RefcountTable.blockOffset(0x50000L | 0x1ff));
        assertEquals(true, RefcountTable.hasReservedBits(0x50001L));
        assertEquals(false, RefcountTable.hasReservedBits(0x8000000000050000L));
        assertEquals(8192, RefcountTable.entries(1, 16));
    }

    private static void assertEntries(byte[] block, int order, long... expected) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], RefcountBlock.get(block, order, i), "order " + order + " entry " + i);
        }
        byte[] rebuilt = new byte[block.length];
        for (int i = 0; i < expected.length; i++) {
            RefcountBlock.set(rebuilt, order, i, expected[i]);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(block, rebuilt);
    }
}
