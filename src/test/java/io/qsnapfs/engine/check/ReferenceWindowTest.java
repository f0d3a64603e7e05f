package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The window's passes together count every reference exactly once, whatever the order, the
 * repetitions and the capacity, and never hold much more than the capacity.
 */
class ReferenceWindowTest {
    /** Counts {@code refs} the way {@link ExclusiveClusters} does: walk after walk, window after window. */
    private static Map<Long, Integer> byWindows(long[] refs, int capacity, int[] walks) {
        Map<Long, Integer> counted = new TreeMap<>();
        long low = 0;
        while (true) {
            ReferenceWindow w = new ReferenceWindow(low, capacity);
            for (long r : refs) {
                assertTrue(w.increment(r, 1), "a window never refuses");
            }
            long lowest = low;
            w.counts((cluster, n) -> {
                assertTrue(cluster >= lowest && cluster < w.high(), cluster + " outside the window");
                assertEquals(null, counted.put(cluster, n), "cluster " + cluster + " counted twice");
            });
            walks[0]++;
            if (w.high() == Long.MAX_VALUE) {
                return counted;
            }
            assertTrue(w.high() > low, "a window makes progress");
            low = w.high();
        }
    }

    private static Map<Long, Integer> expected(long[] refs) {
        Map<Long, Integer> m = new TreeMap<>();
        for (long r : refs) {
            m.merge(r, 1, Integer::sum);
        }
        return m;
    }

    @Test
    void randomReferencesAreCountedOnceInEveryCapacity() {
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            int n = random.nextInt(3000);
            long[] refs = new long[n];
            int spread = 1 + random.nextInt(5000);
            for (int i = 0; i < n; i++) {
                refs[i] = random.nextInt(spread);
            }
            int capacity = 2 + random.nextInt(round % 2 == 0 ? 10 : 4000);
            int[] walks = {0};
            assertEquals(expected(refs), byWindows(refs, capacity, walks), "round " + round + ", capacity " + capacity);
        }
    }

    @Test
    void oneWalkWhenEverythingFits() {
        int[] walks = {0};
        byWindows(new long[] {5, 3, 5, 9, 3, 3}, 6, walks);
        assertEquals(1, walks[0]);
    }

    @Test
    void aClusterReferencedMoreThanHalfTheWindowIsNeverSplit() {
        long[] refs = new long[100];
        for (int i = 0; i < refs.length; i++) {
            refs[i] = i % 10 == 0 ? 1000 + i : 7; // 90 references to cluster 7
        }
        int[] walks = {0};
        Map<Long, Integer> counted = byWindows(refs, 8, walks);
        assertEquals(90, counted.get(7L));
        assertEquals(expected(refs), counted);
    }
}
