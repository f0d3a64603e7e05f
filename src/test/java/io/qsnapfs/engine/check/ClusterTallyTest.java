package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ClusterTallyTest {
    @Test
    void countsPastOneByteAndSaturatesAtTheWidth() {
        ClusterTally t = new ClusterTally(10_000);
        for (int i = 0; i < 1000; i++) {
            assertTrue(t.increment(5000, 65535));
        }
        assertEquals(1000, t.get(5000));
        assertEquals(0, t.get(4999));
        assertEquals(0, t.get(5001));
        for (int i = 0; i < 3; i++) {
            assertTrue(t.increment(7, 3));
        }
        assertFalse(t.increment(7, 3), "2-bit refcounts stop at 3");
        assertEquals(3, t.get(7));
        for (int i = 0; i < 255; i++) {
            assertTrue(t.increment(8, 255));
        }
        assertFalse(t.increment(8, 255), "8-bit refcounts stop at 255");
        assertEquals(255, t.get(8));
        assertTrue(t.increment(9, 1));
        assertFalse(t.increment(9, 1));
        for (int i = 0; i < 300; i++) {
            assertTrue(t.increment(10, -1L), "64-bit refcounts never saturate here");
        }
        assertEquals(300, t.get(10));
    }

    @Test
    void growsForReferencesJustPastTheEnd() {
        ClusterTally t = new ClusterTally(3);
        assertEquals(0, t.get(3));
        assertTrue(t.increment(3, 65535));
        assertEquals(4, t.size());
        assertEquals(1, t.get(3));
        for (int i = 0; i < 400; i++) {
            t.increment(4100, 65535);
        }
        assertEquals(4101, t.size());
        assertEquals(400, t.get(4100));
    }

    @Test
    void refusesImpossibleSizes() {
        assertThrows(IllegalArgumentException.class, () -> new ClusterTally(ClusterTally.MAX_CLUSTERS + 1));
    }
}
