package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The window's passes together count every reference exactly once, whatever the order, the
 * repetitions and the capacity; a cluster named far more often than the window holds takes one
 * pair.
 */
class ReferenceWindowTest {
    /** Counts {@code refs} the way {@link ExclusiveClusters} does: walk after walk, window after window. */
    private static Map<Long, Long> byWindows(long[] refs, int capacity, int[] walks) {
        Map<Long, Long> counted = new TreeMap<>();
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

    private static Map<Long, Long> expected(long[] refs) {
        Map<Long, Long> m = new TreeMap<>();
        for (long r : refs) {
            m.merge(r, 1L, Long::sum);
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
            int capacity = 4 + random.nextInt(round % 2 == 0 ? 10 : 4000);
            int[] walks = {0};
            assertEquals(expected(refs), byWindows(refs, capacity, walks), "round " + round + ", capacity " + capacity);
        }
    }

    @Test
    void oneWalkWhenEverythingFits() {
        int[] walks = {0};
        byWindows(new long[] {5, 3, 5, 9, 3, 3}, 12, walks); // three clusters: three pairs of twelve longs
        assertEquals(1, walks[0]);
    }

    @Test
    void aClusterReferencedMoreThanHalfTheWindowIsNeverSplit() {
        long[] refs = new long[100];
        for (int i = 0; i < refs.length; i++) {
            refs[i] = i % 10 == 0 ? 1000 + i : 7; // 90 references to cluster 7
        }
        int[] walks = {0};
        Map<Long, Long> counted = byWindows(refs, 8, walks);
        assertEquals(90L, counted.get(7L));
        assertEquals(expected(refs), counted);
    }

    /** A hostile tree that names one cluster millions of times: counted in one pair, one walk. */
    @Test
    void oneClusterNamedMillionsOfTimesFitsInASmallWindow() {
        ReferenceWindow w = new ReferenceWindow(0, 8);
        for (int i = 0; i < 5_000_000; i++) {
            w.increment(42, 1);
        }
        long[] seen = new long[2];
        w.counts((cluster, n) -> {
            seen[0] = cluster;
            seen[1] = n;
        });
        assertEquals(42, seen[0]);
        assertEquals(5_000_000L, seen[1]);
        assertEquals(Long.MAX_VALUE, w.high());
    }
}
