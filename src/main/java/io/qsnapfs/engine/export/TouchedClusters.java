package io.qsnapfs.engine.export;

import io.qsnapfs.engine.read.DiffExtent;
import java.io.IOException;

/**
 * The clusters a delta holds: every cluster that a changed extent touches, as ranges of whole
 * clusters in guest order, neighbours and overlaps merged, cut at the end of the disk (a range
 * may end with the disk's last, partial cluster). Extents past the end are ignored.
 */
final class TouchedClusters {
    /** Receives one range of touched clusters, {@code [start, end)} in guest bytes. */
    @FunctionalInterface
    interface Sink {
        void range(long start, long end) throws IOException;
    }

    private TouchedClusters() {
    }

    /**
     * Hands {@code sink} the ranges of clusters that {@code changes} touch in a disk of {@code size}
     * bytes. The extents must come in guest order (by start; they may overlap), as a diff yields
     * them: an extent that starts before the one before it is refused, since its clusters may have
     * been passed already.
     *
     * @throws IllegalArgumentException for extents out of guest order
     */
    static void forEach(Iterable<DiffExtent> changes, int clusterBits, long size, Sink sink) throws IOException {
        long mask = (1L << clusterBits) - 1;
        long lastStart = -1;
        long start = -1;
        long end = -1;
        for (DiffExtent e : changes) {
            if (e.start() < lastStart) {
                throw new IllegalArgumentException("changed extent at " + e.start() + " comes after one at "
                        + lastStart + "; changes must come in guest order");
            }
            lastStart = e.start();
            if (e.start() >= size) {
                continue;
            }
            long first = e.start() & ~mask;
            long past = Math.min(size, (Math.min(size, e.end()) + mask) & ~mask);
            if (start >= 0 && first <= end) {
                end = Math.max(end, past);
            } else {
                if (start >= 0) {
                    sink.range(start, end);
                }
                start = first;
                end = past;
            }
        }
        if (start >= 0) {
            sink.range(start, end);
        }
    }
}
