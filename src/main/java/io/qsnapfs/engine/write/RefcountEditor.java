package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.engine.MetadataGuard.Structure;
import io.qsnapfs.engine.MetadataGuard;
import io.qsnapfs.engine.WriteBatch;
import io.qsnapfs.format.HeaderFields;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.BitSet;
import java.util.function.LongUnaryOperator;

/**
 * The refcounts of an image that is being written, and the cluster allocator built on them.
 *
 * <p>Changes are made in memory first: {@link #add} and {@link #allocate} change the refcount
 * blocks (and table entries, for new blocks) held here and mark them dirty; nothing reaches the
 * file until {@link #write()} or {@link #flush()}. A snapshot operation can therefore do all its
 * refcount arithmetic, find an overflow or a corrupt table, and give up with the file untouched.
 * The one step that writes on its own is the growth of the refcount table ({@link
 * #reserveTableFor}, a complete crash-safe sequence with its own syncs), and the editor never
 * takes it behind its caller's back: the caller reserves before it allocates, as a step of its
 * own.
 *
 * <p>{@link #write()} writes dirty refcount blocks before dirty table entries, so a table entry
 * never points at a block that is not on disk yet. Which order the caller gives to refcount writes
 * and the writes of the tables that make references is documented at each operation in
 * {@link WritableImage}.
 *
 * <p>Every write goes through the {@link MetadataGuard}: the refcount table and blocks are claimed
 * there when loaded, new blocks and a moved table when they are allocated.
 *
 * <p>Memory: the refcount table and every refcount block touched, i.e. at most the image's
 * refcount metadata (2 bytes per cluster at the default 16-bit width).
 *
 * <h2>Where new clusters go</h2>
 * The allocator takes the first run of free clusters at or after a hint that moves down when
 * clusters are freed, like QEMU. A cluster is free when its refcount is 0, except that the first
 * cluster of every range that has no refcount block yet is kept for that block: when an
 * allocation lands in such a range, the block is put there and describes itself. A range beyond
 * the end of the refcount table first makes the table grow.
 */
final class RefcountEditor {
    private final String name;
    private final ImageFile file;
    private final MetadataGuard guard;
    /** What {@link #allocate} hands out is passed through this: the identity, or a fault a test injects. */
    private final LongUnaryOperator allocationFault;
    private final int clusterBits;
    private final long clusterSize;
    private final int order;
    private final int blockBits;
    private final long blockMask;
    private final long max;

    private long tableOffset;
    private int tableClusters;
    private long[] table;
    private byte[][] blocks;
    private BitSet dirtyBlocks = new BitSet();
    private BitSet dirtyEntries = new BitSet();
    /** First cluster past the file and past every cluster allocated here. */
    private long endCluster;
    /** No free cluster lies below this one. */
    private long freeHint;

    private RefcountEditor(ImageFile file, QcowHeader header, long[] table, long fileLength, MetadataGuard guard,
            LongUnaryOperator allocationFault) {
        this.name = file.name();
        this.file = file;
        this.guard = guard;
        this.allocationFault = allocationFault;
        this.clusterBits = header.clusterBits();
        this.clusterSize = header.clusterSize();
        this.order = header.refcountOrder();
        this.blockBits = RefcountBlock.blockBits(clusterBits, order);
        this.blockMask = (1L << blockBits) - 1;
        this.max = RefcountBlock.maxRefcount(order);
        this.tableOffset = header.refcountTableOffset();
        this.tableClusters = header.refcountTableClusters();
        this.table = table;
        this.blocks = new byte[table.length][];
        this.endCluster = ceilDiv(fileLength, clusterSize);
    }

    /**
     * Reads the refcount table named by the header (the blocks are read when first needed). Writes
     * go through {@code guard}; {@link #claimStructures} claims the table and blocks there.
     */
    static RefcountEditor load(ImageFile file, QcowHeader header, long fileLength, MetadataGuard guard,
            LongUnaryOperator allocationFault) {
        return new RefcountEditor(file, header, file.readRefcountTable(header, fileLength), fileLength, guard,
                allocationFault);
    }

    /** The offsets of the refcount blocks the table names, for {@link ImageFile#prefetch}. */
    long[] blockOffsets() {
        long[] offsets = new long[table.length];
        int n = 0;
        for (long entry : table) {
            long o = RefcountTable.blockOffset(entry);
            if (o > 0) {
                offsets[n++] = o;
            }
        }
        return Arrays.copyOf(offsets, n); // a loop, not a stream: it runs once, interpreted
    }

    /** Claims the refcount table and every refcount block it names in the guard. */
    void claimStructures() {
        guard.claim(Structure.REFCOUNT_TABLE, tableOffset, (long) tableClusters << clusterBits);
        for (long entry : table) {
            long block = RefcountTable.blockOffset(entry);
            if (block != 0) {
                guard.claim(Structure.REFCOUNT_BLOCK, block, clusterSize);
            }
        }
    }

    long clusterSize() {
        return clusterSize;
    }

    /** First cluster index past the end of the file and of everything allocated. */
    long endCluster() {
        return endCluster;
    }

    /** The refcount of cluster {@code cluster} (unsigned for 64-bit refcounts). */
    long get(long cluster) {
        byte[] block = block(cluster >>> blockBits);
        return block == null ? 0 : RefcountBlock.get(block, order, (int) (cluster & blockMask));
    }

    /**
     * Adds {@code delta} (+1 or -1) to the refcount of {@code cluster}, in memory.
     *
     * @throws ImageException INVALID_ARGUMENT when the refcount is already the largest the width
     *         holds; CORRUPT when a cluster in use has refcount 0 or one would go below 0
     */
    void add(long cluster, int delta) {
        long t = cluster >>> blockBits;
        byte[] block = block(t);
        int index = (int) (cluster & blockMask);
        long value = block == null ? 0 : RefcountBlock.get(block, order, index);
        if (delta > 0) {
            if (value == 0) {
                throw unreferenced(cluster);
            }
            if (value == max) {
                throw overflow(cluster);
            }
        } else if (value == 0) {
            throw belowZero(cluster);
        }
        long updated = value + delta;
        RefcountBlock.set(block, order, index, updated);
        dirtyBlocks.set((int) t);
        if (updated == 0 && cluster < freeHint) {
            freeHint = cluster;
        }
    }

    /** The refusal of a reference to {@code cluster}, which is in use while its refcount is 0. */
    ImageException unreferenced(long cluster) {
        return ImageException.corrupt(name, "cluster " + Hex.of(cluster << clusterBits)
                + " is in use but its refcount is 0; run 'qemu-img check -r all' first");
    }

    /** The refusal of a release that would take the refcount of {@code cluster} below 0. */
    ImageException belowZero(long cluster) {
        return ImageException.corrupt(name, "the refcount of cluster " + Hex.of(cluster << clusterBits)
                + " would drop below 0; run 'qemu-img check -r all' first");
    }

    private ImageException overflow(long cluster) {
        String width = (1 << order) + "-bit";
        String hint = order == 0
                ? "; 1-bit refcounts cannot count a second reference, so this image cannot hold snapshots: widen them"
                        + " with 'qemu-img amend -o refcount_bits=16'"
                : "; widen the refcounts with 'qemu-img amend -o refcount_bits=" + Math.min(64, 2 << order) + "'";
        return new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": the refcount of cluster "
                + Hex.of(cluster << clusterBits) + " is already " + Long.toUnsignedString(max) + ", the most a "
                + width + " refcount holds" + hint);
    }

    /**
     * Subtracts from the refcount of each cluster of the range starting at cluster {@code first}
     * the count {@code counts} holds for it, packed like a refcount block (a {@link PendingRelease}
     * range, which checked that none drops below 0), in memory.
     */
    void subtract(long first, byte[] counts) {
        long t = first >>> blockBits;
        byte[] block = block(t);
        boolean changed = false;
        for (int i = 0, n = 1 << blockBits; i < n; i++) {
            long count = RefcountBlock.get(counts, order, i);
            if (count == 0) {
                continue;
            }
            long value = block == null ? 0 : RefcountBlock.get(block, order, i);
            if (Long.compareUnsigned(value, count) < 0) {
                throw belowZero(first + i);
            }
            long updated = value - count;
            RefcountBlock.set(block, order, i, updated);
            changed = true;
            if (updated == 0 && first + i < freeHint) {
                freeHint = first + i;
            }
        }
        if (changed) {
            dirtyBlocks.set((int) t);
        }
    }

    /** A release to work out now and apply later, against these refcounts. */
    PendingRelease pendingRelease() {
        return new PendingRelease(this, clusterBits, order);
    }

    /** Subtracts one reference from every cluster touched by {@code [offset, offset + length)}. */
    void free(long offset, long length) {
        if (length <= 0) {
            return;
        }
        for (long c = offset >>> clusterBits, last = (offset + length - 1) >>> clusterBits; c <= last; c++) {
            add(c, -1);
        }
    }

    /** Where {@link #allocate} would put a run: its clusters, the blocks it needs after them, the last range touched. */
    private record Placement(long start, long end, long lastRange) {
    }

    /**
     * The first run of {@code count} free clusters (at or after the hint) that is followed by room
     * for the refcount blocks its ranges lack: the blocks go right after the run.
     */
    private Placement place(long count) {
        long from = freeHint;
        while (true) {
            long start = findFree(count, from);
            // Blocks for the ranges the run touches that have none go right after the run; they may
            // touch one more such range themselves, hence the loop (it settles within a step or two).
            long newBlocks = 0;
            while (true) {
                long missing = missingBlocks(start, start + count + newBlocks);
                if (missing == newBlocks) {
                    break;
                }
                newBlocks = missing;
            }
            long end = start + count + newBlocks;
            long busy = firstUsed(start + count, end);
            if (busy < 0) {
                return new Placement(start, end, (end - 1) >>> blockBits);
            }
            from = busy + 1;
        }
    }

    /**
     * Makes the refcount table long enough for the next {@link #allocate} of {@code count}
     * clusters, moving it to a bigger one if it is not ({@link #growTable}: a complete crash-safe
     * sequence of writes and syncs of its own). The one step of the editor that writes on its own;
     * the caller takes it, as a step of its operation, before allocating.
     */
    void reserveTableFor(long count) {
        if (count <= 0) {
            throw new IllegalArgumentException("cannot allocate " + count + " clusters");
        }
        for (Placement p = place(count); p.lastRange() >= table.length; p = place(count)) {
            growTable(p.lastRange()); // the table's own clusters may take the run: place again
        }
    }

    /**
     * Allocates {@code count} contiguous free clusters, giving each refcount 1, in memory only, and
     * returns the byte offset of the first; the caller claims them in the guard for what it puts
     * there. Ranges of the run that have no refcount block yet get one in the clusters right after
     * the run (claimed here). {@link #reserveTableFor} must have made the table long enough.
     *
     * @throws IllegalStateException when the refcount table would have to grow first
     */
    long allocate(long count) {
        if (count <= 0) {
            throw new IllegalArgumentException("cannot allocate " + count + " clusters");
        }
        Placement p = place(count);
        if (p.lastRange() >= table.length) {
            throw new IllegalStateException(name + ": " + count + " clusters at cluster " + p.start()
                    + " need refcount table entry " + p.lastRange() + "; reserveTableFor was not called");
        }
        long start = p.start();
        long end = p.end();
        long next = start + count;
        for (long t = start >>> blockBits; t <= p.lastRange(); t++) {
            if (blockOffset(t) == 0) {
                guard.claim(Structure.REFCOUNT_BLOCK, next << clusterBits, clusterSize);
                blocks[(int) t] = new byte[(int) clusterSize];
                table[(int) t] = next << clusterBits;
                dirtyEntries.set((int) t);
                next++;
            }
        }
        for (long c = start; c < end; c++) {
            byte[] block = block(c >>> blockBits);
            RefcountBlock.set(block, order, (int) (c & blockMask), 1);
            dirtyBlocks.set((int) (c >>> blockBits));
        }
        if (start == freeHint) {
            freeHint = end;
        }
        endCluster = Math.max(endCluster, end);
        return allocationFault.applyAsLong(start << clusterBits);
    }

    /** Clusters needed for {@code bytes} bytes. */
    long clustersFor(long bytes) {
        return ceilDiv(bytes, clusterSize);
    }

    /** The first run of {@code count} clusters with refcount 0 at or after {@code from}. */
    private long findFree(long count, long from) {
        long run = 0;
        long runStart = from;
        for (long c = from;; c++) {
            if (get(c) == 0) {
                if (run == 0) {
                    runStart = c;
                }
                if (++run == count) {
                    return runStart;
                }
            } else {
                run = 0;
            }
        }
    }

    /** Ranges touched by clusters {@code [from, to)} that have no refcount block. */
    private long missingBlocks(long from, long to) {
        long missing = 0;
        for (long t = from >>> blockBits, last = (to - 1) >>> blockBits; t <= last; t++) {
            if (blockOffset(t) == 0) {
                missing++;
            }
        }
        return missing;
    }

    /**
     * Moves the refcount table to a bigger one that has an entry for range {@code neededRange}.
     *
     * <p>The new table and the refcount blocks for its own clusters go into an area past the end of
     * everything: first the blocks for ranges of the area that have none, then the table. Crash
     * safety, in this order:
     * <ol>
     * <li>every dirty block, the new blocks and the new table are written and synced. The old
     *     table does not reach any of them (its ranges over the area have no blocks, or blocks
     *     whose new entries only make the area's clusters look leaked): still consistent.
     * <li>the 12-byte header write of {@code refcount_table_offset} and {@code
     *     refcount_table_clusters} switches to the new table, and is synced.
     * <li>only then are the old table's clusters freed (in memory, written with the next flush);
     *     until then they are leaked, not lost.
     * </ol>
     */
    private void growTable(long neededRange) {
        long entriesPerCluster = clusterSize / 8;
        long entries = Math.max(neededRange + 1, table.length + (table.length >>> 1) + 1);
        long area = endCluster;
        long newBlocks = 0;
        long tableSpan;
        long end;
        while (true) {
            tableSpan = ceilDiv(entries, entriesPerCluster);
            entries = tableSpan * entriesPerCluster;
            end = area + newBlocks + tableSpan;
            long lastRange = (end - 1) >>> blockBits;
            if (lastRange >= entries) {
                entries = lastRange + 1;
                continue;
            }
            long used = firstUsed(area, end);
            if (used >= 0) {
                area = used + 1; // a cluster past the end that still has a refcount (a compressed tail)
                continue;
            }
            long missing = missingBlocks(area, end);
            if (missing == newBlocks) {
                break;
            }
            newBlocks = missing;
        }
        if (entries * 8 > QcowHeader.MAX_REFTABLE_BYTES) {
            throw new ImageException(ImageException.Kind.NO_SPACE, name + ": the refcount table would need "
                    + entries + " entries, more than the 8 MiB qcow2 allows");
        }

        int newLength = (int) entries;
        table = Arrays.copyOf(table, newLength);
        blocks = Arrays.copyOf(blocks, newLength);
        long next = area;
        for (long t = area >>> blockBits, last = (end - 1) >>> blockBits; t <= last; t++) {
            if (table[(int) t] == 0) {
                guard.claim(Structure.REFCOUNT_BLOCK, next << clusterBits, clusterSize);
                blocks[(int) t] = new byte[(int) clusterSize];
                table[(int) t] = next << clusterBits;
                dirtyBlocks.set((int) t);
                next++;
            }
        }
        long newTableCluster = next;
        for (long c = area; c < end; c++) {
            byte[] block = block(c >>> blockBits);
            RefcountBlock.set(block, order, (int) (c & blockMask), 1);
            dirtyBlocks.set((int) (c >>> blockBits));
        }
        endCluster = end;

        long oldOffset = tableOffset;
        long oldBytes = (long) tableClusters << clusterBits;
        long newOffset = newTableCluster << clusterBits;
        guard.claim(Structure.REFCOUNT_TABLE, newOffset, tableSpan << clusterBits);
        // 1. the blocks and the new table, synced: the old table reaches none of them
        writeBlocks();
        ByteBuffer bytes = ByteBuffer.allocate((int) (tableSpan << clusterBits)).order(ByteOrder.BIG_ENDIAN);
        bytes.asLongBuffer().put(table);
        guard.write(Structure.REFCOUNT_TABLE, newOffset, newOffset, bytes);
        guard.sync();
        // 2. commit: the 12-byte header switch to the new table, synced
        guard.write(Structure.HEADER, 0, HeaderFields.REFCOUNT_TABLE_OFFSET,
                HeaderFields.refcountTable(newOffset, (int) tableSpan));
        guard.sync();
        // 3. the old table's clusters are free (in memory; leaked on disk until the next flush)
        dirtyEntries.clear();
        guard.release(Structure.REFCOUNT_TABLE, oldOffset, oldBytes);
        tableOffset = newOffset;
        tableClusters = (int) tableSpan;
        free(oldOffset, oldBytes);
    }

    /** The first cluster in {@code [from, to)} with a nonzero refcount, or -1. */
    private long firstUsed(long from, long to) {
        for (long c = from; c < to; c++) {
            if (blockOffset(c >>> blockBits) != 0 && get(c) != 0) {
                return c;
            }
        }
        return -1;
    }

    private long blockOffset(long t) {
        return t >= table.length ? 0 : RefcountTable.blockOffset(table[(int) t]);
    }

    /** The block of range {@code t}, read on first use; null when the range has none. */
    private byte[] block(long t) {
        if (t >= table.length) {
            return null;
        }
        byte[] block = blocks[(int) t];
        if (block != null) {
            return block;
        }
        long entry = table[(int) t];
        if (RefcountTable.hasReservedBits(entry)) {
            throw ImageException.corrupt(name, "refcount table entry " + t + " has reserved bits set ("
                    + Hex.of(entry) + ")");
        }
        long offset = RefcountTable.blockOffset(entry);
        if (offset == 0) {
            return null;
        }
        file.checkBlockPlacement(t, offset, clusterSize, endCluster << clusterBits);
        block = file.readRefcountBlock(offset, new byte[(int) clusterSize]);
        blocks[(int) t] = block;
        return block;
    }

    /**
     * Writes the dirty refcount blocks, then the dirty table entries; no sync. Neighbouring blocks
     * and entries go out in one write each.
     */
    void write() {
        writeBlocks();
        writeEntries();
    }

    /** {@link #write()}, then a sync. */
    void flush() {
        write();
        guard.sync();
    }

    /** The dirty blocks, in one batch: neighbouring blocks go out as one write. */
    private void writeBlocks() {
        WriteBatch batch = guard.batch();
        for (int t = dirtyBlocks.nextSetBit(0); t >= 0; t = dirtyBlocks.nextSetBit(t + 1)) {
            // a copy: the batch writes on a thread of its own while the editor goes on changing blocks
            batch.add(Structure.REFCOUNT_BLOCK, MetadataGuard.ANY, RefcountTable.blockOffset(table[t]),
                    ByteBuffer.wrap(blocks[t].clone()));
        }
        batch.write();
        dirtyBlocks.clear();
    }

    private void writeEntries() {
        int t = dirtyEntries.nextSetBit(0);
        while (t >= 0) {
            int end = dirtyEntries.nextClearBit(t);
            ByteBuffer run = ByteBuffer.allocate((end - t) * 8).order(ByteOrder.BIG_ENDIAN);
            for (int k = t; k < end; k++) {
                run.putLong(table[k]);
            }
            guard.write(Structure.REFCOUNT_TABLE, tableOffset, tableOffset + 8L * t, run.flip());
            t = dirtyEntries.nextSetBit(end);
        }
        dirtyEntries.clear();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
