package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * The assertions that hold a diff of two disks (the guest ranges where FROM and TO may differ) to
 * QEMU: the bytes {@code qemu-img convert} reads for each disk at its own size, and what the test's
 * model says was touched between the two. A diff must never miss a change (every byte outside it
 * is equal in the two disks, and everything past the smaller disk's end is in it), may report an
 * unchanged range only where a write touched it (precision, to the cluster), and must be a list of
 * ranges in order, non-overlapping and coalesced; a range marked zero must read zeros in TO.
 */
public final class DiffOracle {
    private DiffOracle() {
    }

    /** One reported range: {@code length} bytes from {@code start}; {@code zero}: TO reads zeros there. */
    public record Change(long start, long length, boolean zero) {
        public long end() {
            return start + length;
        }

        @Override
        public String toString() {
            return "[" + start + ", " + end() + ")" + (zero ? " zero" : "");
        }
    }

    /**
     * All of {@link #assertWellFormed}, {@link #assertCoversDifferences} and (with {@code touched}
     * non-null) {@link #assertWithinTouched}.
     */
    public static void assertDiff(byte[] from, byte[] to, List<Change> changes, BitSet touched, int clusterSize,
            String what) {
        assertWellFormed(changes, from.length, to.length, what);
        assertCoversDifferences(from, to, changes, what);
        if (touched != null) {
            assertWithinTouched(changes, touched, clusterSize, what);
        }
    }

    /**
     * The ranges are non-empty, in order, do not overlap, lie inside {@code [0, max(fromSize,
     * toSize))}, and are coalesced: two that meet have different zero flags.
     */
    public static void assertWellFormed(List<Change> changes, long fromSize, long toSize, String what) {
        long end = Math.max(fromSize, toSize);
        Change prev = null;
        for (Change c : changes) {
            if (c.length() <= 0 || c.start() < 0 || c.end() > end) {
                fail(what + ": range " + c + " is empty or outside [0, " + end + "); diff: " + show(changes));
            }
            if (prev != null && c.start() < prev.end()) {
                fail(what + ": range " + c + " is out of order or overlaps " + prev + "; diff: " + show(changes));
            }
            if (prev != null && c.start() == prev.end() && c.zero() == prev.zero()) {
                fail(what + ": ranges " + prev + " and " + c + " meet with the same zero flag, not coalesced; diff: "
                        + show(changes));
            }
            prev = c;
        }
    }

    /**
     * Never misses a change: every byte outside the ranges is equal in {@code from} and {@code to},
     * and everything past the smaller one's end lies inside them. A range marked zero lies inside
     * TO and TO reads zeros throughout it.
     */
    public static void assertCoversDifferences(byte[] from, byte[] to, List<Change> changes, String what) {
        int common = Math.min(from.length, to.length);
        int pos = 0;
        for (Change c : changes) {
            assertEqualBetween(from, to, pos, (int) Math.min(c.start(), common), changes, what);
            pos = (int) Math.max(pos, c.end());
            if (c.zero()) {
                if (c.end() > to.length) {
                    fail(what + ": range " + c + " is marked zero but runs past TO's end " + to.length + "; diff: "
                            + show(changes));
                }
                for (int i = (int) c.start(); i < c.end(); i++) {
                    if (to[i] != 0) {
                        fail(what + ": range " + c + " is marked zero but TO reads " + (to[i] & 0xff) + " at " + i
                                + " (0x" + Integer.toHexString(i) + "); diff: " + show(changes));
                    }
                }
            }
        }
        assertEqualBetween(from, to, pos, common, changes, what);
        int larger = Math.max(from.length, to.length);
        long covered = common;
        for (Change c : changes) {
            if (c.end() > covered && c.start() <= covered) {
                covered = c.end();
            }
        }
        if (covered < larger) {
            fail(what + ": byte " + covered + ", past the smaller disk's end (sizes " + from.length + " and "
                    + to.length + "), is in no reported range; diff: " + show(changes));
        }
    }

    private static void assertEqualBetween(byte[] from, byte[] to, int start, int end, List<Change> changes,
            String what) {
        if (start >= end) {
            return;
        }
        int m = Arrays.mismatch(from, start, end, to, start, end);
        if (m >= 0) {
            int at = start + m;
            int last = at;
            while (last + 1 < end && from[last + 1] != to[last + 1]) {
                last++;
            }
            fail(what + ": missed a change: bytes " + at + " (0x" + Integer.toHexString(at) + ") to " + last
                    + " differ (FROM " + (from[at] & 0xff) + ", TO " + (to[at] & 0xff)
                    + ") but are in no reported range; diff: " + show(changes));
        }
    }

    /**
     * Precision: every cluster a range reaches (the ranges rounded out to clusters) is one of the
     * {@code touched} clusters.
     */
    public static void assertWithinTouched(List<Change> changes, BitSet touched, int clusterSize, String what) {
        for (Change c : changes) {
            int first = (int) (c.start() / clusterSize);
            int end = (int) ((c.end() - 1) / clusterSize) + 1;
            int untouched = touched.nextClearBit(first);
            if (untouched < end) {
                fail(what + ": range " + c + " reaches cluster " + untouched + " (guest offset "
                        + (long) untouched * clusterSize + "), which nothing touched between the two (touched: "
                        + touched + ", cluster size " + clusterSize + "); diff: " + show(changes));
            }
        }
    }

    /** {@code a} and {@code b} cover the same bytes (however the zero flags split them). */
    public static void assertSameRanges(List<Change> a, List<Change> b, String what) {
        List<long[]> ua = union(a);
        List<long[]> ub = union(b);
        boolean same = ua.size() == ub.size();
        for (int i = 0; same && i < ua.size(); i++) {
            same = Arrays.equals(ua.get(i), ub.get(i));
        }
        if (!same) {
            fail(what + ": the two directions cover different ranges:\n  " + show(a) + "\n  " + show(b));
        }
    }

    /** The clusters in which {@code from} and {@code to} differ, counting every cluster past the smaller's end. */
    public static BitSet differingClusters(byte[] from, byte[] to, int clusterSize) {
        BitSet out = new BitSet();
        int common = Math.min(from.length, to.length);
        for (int c = 0; (long) c * clusterSize < common; c++) {
            int s = c * clusterSize;
            int e = Math.min(common, s + clusterSize);
            if (Arrays.mismatch(from, s, e, to, s, e) >= 0) {
                out.set(c);
            }
        }
        int larger = Math.max(from.length, to.length);
        if (larger > common) {
            out.set(common / clusterSize, (larger - 1) / clusterSize + 1);
        }
        return out;
    }

    /** The clusters the ranges reach. */
    public static BitSet clusters(List<Change> changes, int clusterSize) {
        BitSet out = new BitSet();
        for (Change c : changes) {
            out.set((int) (c.start() / clusterSize), (int) ((c.end() - 1) / clusterSize) + 1);
        }
        return out;
    }

    private static List<long[]> union(List<Change> changes) {
        List<long[]> out = new ArrayList<>();
        for (Change c : changes) {
            if (!out.isEmpty() && out.get(out.size() - 1)[1] == c.start()) {
                out.get(out.size() - 1)[1] = c.end();
            } else {
                out.add(new long[] {c.start(), c.end()});
            }
        }
        return out;
    }

    /** The ranges for a failure message, the first 40 of them. */
    public static String show(List<Change> changes) {
        if (changes.size() <= 40) {
            return changes.toString();
        }
        return changes.subList(0, 40) + " ... (" + changes.size() + " ranges)";
    }
}
