package io.qsnapfs.engine.export;

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
    static void forEach(Exporter.Changes changes, int clusterBits, long size, Sink sink) throws IOException {
        long mask = (1L << clusterBits) - 1;
        long[] last = {-1};
        long[] range = {-1, -1};
        changes.forEach((extentStart, length, zero) -> {
            if (extentStart < last[0]) {
                throw new IllegalArgumentException("changed extent at " + extentStart + " comes after one at "
                        + last[0] + "; changes must come in guest order");
            }
            last[0] = extentStart;
            if (extentStart >= size) {
                return;
            }
            long first = extentStart & ~mask;
            long past = Math.min(size, (Math.min(size, extentStart + length) + mask) & ~mask);
            if (range[0] >= 0 && first <= range[1]) {
                range[1] = Math.max(range[1], past);
            } else {
                if (range[0] >= 0) {
                    sink.range(range[0], range[1]);
                }
                range[0] = first;
                range[1] = past;
            }
        });
        if (range[0] >= 0) {
            sink.range(range[0], range[1]);
        }
    }
}
