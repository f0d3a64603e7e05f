package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.qsnapfs.engine.read.DiffExtent;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which clusters a delta holds: whole clusters around the changes, merged, cut at the disk's end. */
class TouchedClustersTest {
    private static List<String> ranges(long size, DiffExtent... changes) throws IOException {
        List<String> out = new ArrayList<>();
        TouchedClusters.forEach(Exporter.Changes.of(List.of(changes)), 12, size, (start, end) -> out.add(start + "-" + end));
        return out;
    }

    @Test
    void extentsGrowToWholeClustersAndNeighboursMerge() throws IOException {
        assertEquals(List.of("0-4096"), ranges(1 << 20, new DiffExtent(1, 1, false)));
        assertEquals(List.of("4096-12288"), ranges(1 << 20, new DiffExtent(4095 + 4096, 2, true)));
        // Touching clusters, overlapping extents, one inside another: one range.
        assertEquals(List.of("0-16384"), ranges(1 << 20, new DiffExtent(0, 4096, false),
                new DiffExtent(4096, 100, true), new DiffExtent(4200, 10000, false), new DiffExtent(5000, 10, false)));
        // A cluster apart: two ranges.
        assertEquals(List.of("0-4096", "8192-12288"), ranges(1 << 20, new DiffExtent(0, 4096, false),
                new DiffExtent(8192, 1, false)));
        // Extents that start together, the longer first.
        assertEquals(List.of("0-20480"), ranges(1 << 20, new DiffExtent(0, 20000, false), new DiffExtent(0, 1, false),
                new DiffExtent(4096, 1, false)));
    }

    @Test
    void theDisksEndCutsAndEndsTheRanges() throws IOException {
        assertEquals(List.of("8192-10000"), ranges(10000, new DiffExtent(9000, 50000, false)));
        assertEquals(List.of("8192-10000"), ranges(10000, new DiffExtent(9999, 1, false), new DiffExtent(10000, 5, false),
                new DiffExtent(1 << 30, 1, false)));
        assertEquals(List.of(), ranges(10000, new DiffExtent(10000, 1, false)));
        assertEquals(List.of(), ranges(0, new DiffExtent(0, 1, false)));
        assertEquals(List.of(), ranges(1 << 20));
    }

    @Test
    void extentsOutOfGuestOrderAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> ranges(1 << 20, new DiffExtent(8192, 1, false), new DiffExtent(0, 1, false)));
        // Even past the end, where they are otherwise ignored.
        assertThrows(IllegalArgumentException.class,
                () -> ranges(100, new DiffExtent(500, 1, false), new DiffExtent(200, 1, false)));
    }
}
