package io.qsnapfs.engine.read;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.ClusterReads.Reads;
import io.qsnapfs.format.L2Entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;

/**
 * The guest ranges where two disks of one image (two snapshots, or a snapshot and the active
 * layer) may hold different bytes, found from their tables alone: no guest data is read.
 *
 * <p>Two disks hold the same bytes in a guest cluster when metadata says so:
 * <ul>
 * <li>both L1 tables name the same L2 table, or neither names one: the whole range the L1 entry
 *     covers is the same (with no L2 table both fall through to the same backing chain);
 * <li>both entries point at the same host cluster: a cluster that two trees reference has a
 *     refcount above 1 and QEMU never writes it in place, it copies on write;
 * <li>both are compressed with the same descriptor (same host bytes, never rewritten in place);
 * <li>both read zeros: zero clusters, plain or preallocated, or unallocated where the backing
 *     chain reads zeros by its own metadata (no backing file, past its end, zero clusters there);
 * <li>both are unallocated: the same backing chain.
 * </ul>
 * Everything else is reported as changed, so a change is never missed; what is reported may still
 * hold equal bytes only where metadata cannot tell (a rewrite with the same bytes, a copy on write).
 * With extended L2 entries the rules apply per subcluster. An image with an external data file is
 * the exception: its data clusters are not counted by refcounts and QEMU writes them in place, so a
 * snapshot's bytes change with the active layer's, and an export of FROM made earlier may differ
 * from FROM wherever there is data: every range with data in either disk is reported (even for a
 * snapshot against itself). Past the smaller disk's end everything is
 * changed; there {@code zero} describes the larger disk if it is TO, and is false if it is FROM.
 */
public final class Diff {
    /** Receives the changed ranges, in guest order, coalesced, never overlapping. */
    @FunctionalInterface
    public interface Sink {
        void changed(long start, long length, boolean zero) throws IOException;
    }

    private final Tree from;
    private final Tree to;
    private final boolean dataFile;
    private final Sink sink;
    private final Map<Qcow2View, Tree> backingTrees = new IdentityHashMap<>();
    private long pendingStart;
    private long pendingLength;
    private boolean pendingZero;

    private Diff(Qcow2View from, Qcow2View to, Sink sink) {
        this.from = new Tree(from);
        this.to = new Tree(to);
        this.dataFile = from.image().hasDataFile();
        this.sink = sink;
    }

    /**
     * Hands {@code sink} the ranges of {@code [0, max(from.size(), to.size()))} where {@code from}
     * and {@code to}, two views of the same image, may differ; {@code zero} says {@code to} reads
     * zeros throughout the range.
     *
     * @throws ImageException CORRUPT for a malformed table entry
     */
    public static void changes(Qcow2View from, Qcow2View to, Sink sink) throws IOException {
        if (from.image() != to.image()) {
            throw new IllegalArgumentException(from.describe() + " and " + to.describe() + " are not views of one image");
        }
        new Diff(from, to, sink).run();
    }

    /** {@link #changes} collected into a list (one entry per changed range). */
    public static List<DiffExtent> list(Qcow2View from, Qcow2View to) throws IOException {
        List<DiffExtent> extents = new ArrayList<>();
        changes(from, to, (start, length, zero) -> extents.add(new DiffExtent(start, length, zero)));
        return extents;
    }

    private void run() throws IOException {
        long common = Math.min(from.size, to.size);
        prefetch(common);
        compare(0, common, true);
        if (to.size > common) {
            compare(common, to.size, false);
        } else if (from.size > common) {
            emit(common, from.size - common, false);
        }
        flush();
    }

    /** Has the kernel start reading the L2 tables the comparison will read. */
    private void prefetch(long common) {
        long tables = (common + from.bytesPerTable - 1) >>> from.l1Shift;
        long[] offsets = LongStream.range(0, tables)
                .filter(i -> from.l2Offset(i) != to.l2Offset(i) || dataFile)
                .flatMap(i -> LongStream.of(from.l2Offset(i), to.l2Offset(i)))
                .filter(o -> o != 0)
                .toArray();
        from.image.prefetchL2Tables(offsets);
    }

    /**
     * Compares {@code [start, end)}; with {@code fromExists} false the range lies past FROM's end,
     * so all of it is changed and only TO is looked at.
     */
    private void compare(long start, long end, boolean fromExists) throws IOException {
        long pos = start;
        while (pos < end) {
            long index = pos >>> to.l1Shift;
            long tableEnd = Math.min(end, (index + 1) << to.l1Shift);
            long la = fromExists ? from.l2Offset(index) : 0;
            long lb = to.l2Offset(index);
            if (fromExists && la == lb && (la == 0 || !dataFile)) {
                pos = tableEnd; // one L2 table, or none (the same backing chain): nothing changed here
                continue;
            }
            long[] ta = la == 0 ? null : from.image.l2Table(la);
            long[] tb = lb == 0 ? null : to.image.l2Table(lb);
            while (pos < tableEnd) {
                int j = to.entryIndex(pos);
                long clusterEnd = Math.min(tableEnd, ((pos >>> to.clusterBits) + 1) << to.clusterBits);
                long ea = to.word(ta, j, 0);
                long ba = to.word(ta, j, 1);
                long eb = to.word(tb, j, 0);
                long bb = to.word(tb, j, 1);
                if (!fromExists || ea != eb || ba != bb || dataFile) {
                    cluster(ea, ba, la, eb, bb, lb, j, pos, clusterEnd, fromExists);
                }
                pos = clusterEnd;
            }
        }
    }

    /** Compares one cluster's entries, per subcluster with extended L2 entries. */
    private void cluster(long ea, long ba, long la, long eb, long bb, long lb, int j, long start, long end,
            boolean fromExists) throws IOException {
        if (!to.extended) {
            verdict(fromExists ? from.reads.of(ea, 0, 0, la, j) : null, ea, to.reads.of(eb, 0, 0, lb, j), eb, start, end);
            return;
        }
        long pos = start;
        while (pos < end) {
            int sc = to.subclusterIndex(pos);
            long scEnd = Math.min(end, ((pos >>> to.subclusterBits) + 1) << to.subclusterBits);
            verdict(fromExists ? from.reads.of(ea, ba, sc, la, j) : null, ea, to.reads.of(eb, bb, sc, lb, j), eb, pos,
                    scEnd);
            pos = scEnd;
        }
    }

    /**
     * Reports {@code [start, end)} unless what the two entries read ({@code ka} null past FROM's
     * end) says its bytes are the same.
     */
    private void verdict(Reads ka, long ea, Reads kb, long eb, long start, long end) throws IOException {
        boolean same;
        Boolean toZero = null;
        if (ka == kb) {
            same = switch (ka) {
                case UNALLOCATED, ZERO -> true;
                case DATA -> !dataFile && L2Entry.offset(ea) == L2Entry.offset(eb);
                default -> ((ea ^ eb) & ~L2Entry.COPIED) == 0;
            };
        } else if ((ka == Reads.ZERO && kb == Reads.UNALLOCATED) || (ka == Reads.UNALLOCATED && kb == Reads.ZERO)) {
            same = backingZeros(to, start, end);
            toZero = kb == Reads.ZERO || same;
        } else {
            same = false;
        }
        if (same) {
            return;
        }
        if (toZero == null) {
            toZero = kb == Reads.ZERO || (kb == Reads.UNALLOCATED && backingZeros(to, start, end));
        }
        emit(start, end - start, toZero);
    }

    /** True when the backing chain of {@code tree}'s image reads zeros over the range by metadata alone. */
    private boolean backingZeros(Tree tree, long start, long end) throws IOException {
        BlockSource backing = tree.image.backingSource();
        if (backing == null || start >= backing.size()) {
            return true;
        }
        if (!(backing instanceof Qcow2View view)) {
            return false; // a raw backing file: only its data could tell
        }
        return readsZeros(backingTrees.computeIfAbsent(view, Tree::new), start, Math.min(end, backing.size()));
    }

    /** True when {@code tree} reads zeros over {@code [start, end)} by metadata alone. */
    private boolean readsZeros(Tree tree, long start, long end) throws IOException {
        long pos = start;
        while (pos < end) {
            long index = pos >>> tree.l1Shift;
            long tableEnd = Math.min(end, (index + 1) << tree.l1Shift);
            long l2 = tree.l2Offset(index);
            if (l2 == 0) {
                if (!backingZeros(tree, pos, tableEnd)) {
                    return false;
                }
                pos = tableEnd;
                continue;
            }
            long[] table = tree.image.l2Table(l2);
            while (pos < tableEnd) {
                int j = tree.entryIndex(pos);
                long unitEnd = tree.extended
                        ? ((pos >>> tree.subclusterBits) + 1) << tree.subclusterBits
                        : ((pos >>> tree.clusterBits) + 1) << tree.clusterBits;
                unitEnd = Math.min(tableEnd, unitEnd);
                Reads kind = tree.reads.of(tree.word(table, j, 0), tree.word(table, j, 1),
                        tree.extended ? tree.subclusterIndex(pos) : 0, l2, j);
                if (kind == Reads.DATA || kind == Reads.COMPRESSED
                        || (kind == Reads.UNALLOCATED && !backingZeros(tree, pos, unitEnd))) {
                    return false;
                }
                pos = unitEnd;
            }
        }
        return true;
    }

    private void emit(long start, long length, boolean zero) throws IOException {
        if (pendingLength > 0 && pendingStart + pendingLength == start && pendingZero == zero) {
            pendingLength += length;
            return;
        }
        flush();
        pendingStart = start;
        pendingLength = length;
        pendingZero = zero;
    }

    private void flush() throws IOException {
        if (pendingLength > 0) {
            long length = pendingLength;
            pendingLength = 0;
            sink.changed(pendingStart, length, pendingZero);
        }
    }

    /** One view's tables and the image geometry its entries are read with. */
    private static final class Tree {
        final QcowImage image;
        final long[] l1;
        final long size;
        final int clusterBits;
        final int subclusterBits;
        final int l1Shift;
        final long bytesPerTable;
        final int l2Mask;
        final int entryWords;
        final boolean extended;
        final boolean dataFile;
        final ClusterReads reads;

        Tree(Qcow2View view) {
            this.image = view.image();
            this.l1 = view.l1();
            this.size = view.size();
            this.clusterBits = image.header().clusterBits();
            this.subclusterBits = clusterBits - 5;
            this.l1Shift = clusterBits + image.header().l2Bits();
            this.bytesPerTable = 1L << l1Shift;
            this.l2Mask = (1 << image.header().l2Bits()) - 1;
            this.entryWords = image.header().l2EntryWords();
            this.extended = image.header().hasExtendedL2();
            this.dataFile = image.hasDataFile();
            this.reads = new ClusterReads(image.name(), image.header(), dataFile);
        }

        long l2Offset(long index) {
            return index < l1.length ? l1[(int) index] & L2Entry.OFFSET_MASK : 0;
        }

        int entryIndex(long guest) {
            return (int) (guest >>> clusterBits) & l2Mask;
        }

        int subclusterIndex(long guest) {
            return (int) ((guest & ((1L << clusterBits) - 1)) >>> subclusterBits);
        }

        /** Word {@code w} (0: the entry, 1: the subcluster bitmap) of entry {@code j}; 0 without a table. */
        long word(long[] table, int j, int w) {
            if (table == null || (w == 1 && !extended)) {
                return 0;
            }
            return table[j * entryWords + w];
        }
    }
}
