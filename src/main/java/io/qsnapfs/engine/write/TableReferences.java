package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.engine.MetadataGuard.Structure;
import io.qsnapfs.engine.MetadataGuard;
import io.qsnapfs.engine.WriteBatch;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongPredicate;

/**
 * The references an L1 table makes, for the writer: adding or removing one reference to every
 * cluster the table reaches, and setting the COPIED flags that follow from the refcounts.
 *
 * <p>What an L1 table reaches, as QEMU and {@code qemu-img check} count it (one reference per
 * pointer): each L2 table its entries name; in each L2 table, each normal or allocated-zero data
 * cluster, and for each compressed entry every host cluster its byte range touches. A cluster
 * reached through two L1 tables (the active one and a snapshot's, say) thus has refcount 2 even
 * when both reach it through the same L2 table. The L1 table's own clusters are not included;
 * the caller allocates and frees those.
 *
 * <p>COPIED (bit 63 of an L1 or standard L2 entry) says "refcount is exactly 1, write in place".
 * It is never set for compressed entries.
 */
final class TableReferences {
    /** Bytes of L2 tables one operation keeps in memory between its walks. */
    private static final long CACHE_BYTES = 64L << 20;
    /** Bytes of L2 tables read ahead of a walk and not yet taken by it ({@link L2ReadAhead}). */
    private static final long AHEAD_BYTES = 4L << 20;

    private final String name;
    private final ImageFile file;
    private final QcowHeader header;
    private final MetadataGuard guard;
    private final RefcountEditor refcounts;
    /** The file's length when the operation began: tables are read only before anything is written. */
    private final long fileLength;
    private final int clusterBits;
    private final long clusterSize;
    private final boolean extended;
    private final int entryWords;
    private final int l2Entries;
    private final long[] table;
    /**
     * L2 tables as read by this operation's walks (an operation walks a tree more than once: the
     * references, then the COPIED flags), up to {@link #CACHE_BYTES}; {@link #updateCopied} keeps
     * them equal to what it writes.
     */
    private final Map<Long, long[]> read = new HashMap<>();
    private long cachedBytes;
    /** The L2 tables {@link #prefetch} asked for, sorted; null before its first call. */
    private long[] prefetched;

    TableReferences(ImageFile file, QcowHeader header, RefcountEditor refcounts, long fileLength, MetadataGuard guard) {
        this.name = file.name();
        this.file = file;
        this.header = header;
        this.guard = guard;
        this.refcounts = refcounts;
        this.fileLength = fileLength;
        this.clusterBits = header.clusterBits();
        this.clusterSize = header.clusterSize();
        this.extended = header.hasExtendedL2();
        this.entryWords = header.l2EntryWords();
        this.l2Entries = header.l2Entries();
        this.table = new long[(int) (clusterSize / 8)];
    }

    /** Reads an L1 table of {@code size} entries at {@code offset}, checking where it lies. */
    long[] readL1(long offset, int size, String what) {
        return file.readL1(header, offset, size, fileLength, what);
    }

    /**
     * Has the kernel start reading what a walk of the table {@code l1} reads ({@link
     * ImageFile#prefetch}): on the first call the refcount blocks, which come first because the
     * allocator scans them before a walk begins; then the L2 tables {@code l1} names that no earlier
     * call asked for.
     */
    void prefetch(long[] l1) {
        if (prefetched == null) {
            file.prefetch(refcounts.blockOffsets(), clusterSize);
            prefetched = new long[0];
        }
        // Plain loops: this runs once or twice per operation, interpreted (a stream took 40 ms).
        long[] l2s = new long[l1.length];
        int n = 0;
        for (long e : l1) {
            long o = e & L2Entry.OFFSET_MASK;
            if (o != 0 && Arrays.binarySearch(prefetched, o) < 0) {
                l2s[n++] = o;
            }
        }
        long[] all = Arrays.copyOf(prefetched, prefetched.length + n);
        System.arraycopy(l2s, 0, all, prefetched.length, n);
        Arrays.sort(all);
        file.prefetch(Arrays.copyOf(l2s, n), clusterSize);
        prefetched = all;
    }

    /** Claims in the guard the L2 tables {@code l1} names (checking each entry as {@link #adjust} does). */
    void claimL2Tables(long[] l1) {
        for (int i = 0; i < l1.length; i++) {
            long l2Offset = l2Offset(l1[i], i);
            if (l2Offset != 0) {
                guard.claim(Structure.L2, l2Offset, clusterSize);
            }
        }
    }

    /** What a walk does with each reference it finds: one per host cluster per pointer. */
    @FunctionalInterface
    private interface Visit {
        void reference(long cluster);
    }

    /**
     * Adds {@code addend} (+1 or -1) to the refcount of every cluster {@code l1} reaches, in
     * memory. Nothing is written.
     *
     * @throws ImageException CORRUPT for a malformed entry or table; INVALID_ARGUMENT on overflow
     */
    void adjust(long[] l1, int addend) {
        walk(l1, c -> refcounts.add(c, addend), l2 -> false);
    }

    /**
     * Counts in {@code pending} one reference fewer to every cluster {@code l1} reaches; the
     * refcounts themselves change only when it is applied.
     *
     * @throws ImageException CORRUPT for a malformed entry or table, or a refcount that would drop
     *         below 0
     */
    void release(long[] l1, PendingRelease pending) {
        walk(l1, pending::remove, l2 -> false);
    }

    /**
     * Reads and checks every table {@code l1} reaches, except the L2 tables {@code checked} says
     * were checked already, and that every cluster they reach has a refcount. Nothing changes.
     *
     * @throws ImageException CORRUPT for a malformed entry or table, or a cluster in use whose
     *         refcount is 0
     */
    void check(long[] l1, LongPredicate checked) {
        walk(l1, c -> {
            if (refcounts.get(c) == 0) {
                throw refcounts.unreferenced(c);
            }
        }, checked);
    }

    /**
     * Visits every reference {@code l1} makes (the L2 tables {@code skip} accepts and what they reach
     * left out). The tables not in memory yet are read ahead of the walk on a second thread.
     */
    private void walk(long[] l1, Visit visit, LongPredicate skip) {
        try (L2ReadAhead ahead = readAhead(l1, skip)) {
            walk(l1, visit, skip, ahead);
        }
    }

    private void walk(long[] l1, Visit visit, LongPredicate skip, L2ReadAhead ahead) {
        for (int i = 0; i < l1.length; i++) {
            long l2Offset = l2Offset(l1[i], i);
            if (l2Offset == 0) {
                continue;
            }
            visit.reference(l2Offset >>> clusterBits);
            if (skip.test(l2Offset)) {
                continue;
            }
            long[] entries = readL2(l2Offset, ahead, i);
            for (int j = 0; j < l2Entries; j++) {
                long entry = entries[j * entryWords];
                switch (L2Entry.kind(entry, extended, false)) {
                    case COMPRESSED -> {
                        long offset = L2Entry.compressedOffset(entry, clusterBits);
                        long last = (offset + L2Entry.compressedLength(entry, clusterBits) - 1) >>> clusterBits;
                        for (long c = offset >>> clusterBits; c <= last; c++) {
                            visit.reference(c);
                        }
                    }
                    case NORMAL, ZERO_ALLOC -> visit.reference(dataOffset(entry, l2Offset, j) >>> clusterBits);
                    case UNALLOCATED, ZERO_PLAIN -> {
                        // owns no cluster
                    }
                }
            }
        }
    }

    /**
     * Sets COPIED in {@code l1} and in the L2 tables it reaches exactly where the refcount (as the
     * editor has it now) is 1. Changed L2 tables, and {@code l1} itself at {@code l1Offset} (a
     * structure of kind {@code l1Kind}) when it changed, are written (no sync; the L2 tables as one
     * batch, then the L1 table); {@code l1} is changed in memory too.
     */
    void updateCopied(long[] l1, long l1Offset, Structure l1Kind) {
        updateCopied(l1, l1Offset, l1Kind, false);
    }

    /**
     * Clears COPIED everywhere in {@code l1} and the L2 tables it reaches, as {@link #updateCopied}
     * would right after one more reference was added along all of them: every cluster they reach is
     * shared now, and no refcount needs looking up to know it.
     */
    void clearCopied(long[] l1, long l1Offset, Structure l1Kind) {
        updateCopied(l1, l1Offset, l1Kind, true);
    }

    /**
     * Sets COPIED where the cluster has refcount 1, clears it elsewhere; everywhere when {@code
     * allShared} (no refcount looked up: the walks' hot loop).
     */
    private void updateCopied(long[] l1, long l1Offset, Structure l1Kind, boolean allShared) {
        WriteBatch l2Tables = guard.batch();
        boolean l1Changed = false;
        for (int i = 0; i < l1.length; i++) {
            long l2Offset = l2Offset(l1[i], i);
            if (l2Offset == 0) {
                continue;
            }
            long wanted = copied(l1[i], !allShared && refcounts.get(l2Offset >>> clusterBits) == 1);
            if (wanted != l1[i]) {
                l1[i] = wanted;
                l1Changed = true;
            }
            long[] entries = readL2(l2Offset, null, i);
            boolean changed = false;
            for (int j = 0; j < l2Entries; j++) {
                long entry = entries[j * entryWords];
                L2Entry.Kind kind = L2Entry.kind(entry, extended, false);
                if (kind != L2Entry.Kind.NORMAL && kind != L2Entry.Kind.ZERO_ALLOC) {
                    continue; // COPIED is never set on compressed entries, and means nothing without a cluster
                }
                long data = dataOffset(entry, l2Offset, j);
                long updated = copied(entry, !allShared && refcounts.get(data >>> clusterBits) == 1);
                if (updated != entry) {
                    entries[j * entryWords] = updated;
                    changed = true;
                }
            }
            if (changed) {
                l2Tables.add(Structure.L2, l2Offset, l2Offset, encode(entries));
            }
        }
        l2Tables.write();
        if (l1Changed) {
            writeTable(l1Kind, l1Offset, l1);
        }
    }

    /**
     * Writes the table {@code kind} at {@code offset}, at least {@code clusterSize} bytes, padded
     * with zeros to whole clusters.
     */
    void writeTable(Structure kind, long offset, long[] entries) {
        guard.write(kind, offset, offset, encode(entries));
    }

    /** A table's bytes: big-endian entries, padded with zeros to whole clusters (at least one). */
    private ByteBuffer encode(long[] entries) {
        long bytes = Math.max(clusterSize, ((entries.length * 8L + clusterSize - 1) / clusterSize) * clusterSize);
        ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.BIG_ENDIAN);
        b.asLongBuffer().put(entries);
        return b;
    }

    private static long copied(long entry, boolean onlyOwner) {
        return onlyOwner ? entry | L2Entry.COPIED : entry & ~L2Entry.COPIED;
    }

    private long l2Offset(long l1Entry, int index) {
        if ((l1Entry & L2Entry.L1_RESERVED_MASK) != 0) {
            throw ImageException.corrupt(name, "L1 entry " + index + " has reserved bits set (" + Hex.of(l1Entry)
                    + "); run 'qemu-img check'");
        }
        long offset = l1Entry & L2Entry.OFFSET_MASK;
        if ((offset & (clusterSize - 1)) != 0) {
            throw ImageException.corrupt(name, "L1 entry " + index + " points to an L2 table at " + Hex.of(offset)
                    + " that is not aligned to a cluster boundary");
        }
        if (offset != 0 && (offset >>> clusterBits) >= refcounts.endCluster()) {
            throw ImageException.corrupt(name, "L2 table at " + Hex.of(offset) + " lies beyond the end of the file");
        }
        return offset;
    }

    /** The host offset of a standard entry's cluster, checked for alignment. */
    private long dataOffset(long entry, long l2Offset, int index) {
        long offset = entry & L2Entry.OFFSET_MASK;
        if (offset != 0 && (offset & (clusterSize - 1)) != 0) {
            throw ImageException.corrupt(name, "L2 table at " + Hex.of(l2Offset) + " entry " + index
                    + " points to a data cluster at " + Hex.of(offset) + " that is not aligned to a cluster boundary");
        }
        return offset;
    }

    /**
     * A read-ahead of the L2 tables a walk of {@code l1} will read ({@code skip} leaves some out), those
     * in memory left out; null when there are none. A plain loop: it runs once per walk, interpreted.
     */
    private L2ReadAhead readAhead(long[] l1, LongPredicate skip) {
        long[] offsets = new long[l1.length];
        boolean any = false;
        for (int i = 0; i < l1.length; i++) {
            long o = l1[i] & L2Entry.OFFSET_MASK;
            if (o != 0 && !skip.test(o) && (read.isEmpty() || !read.containsKey(o))) {
                offsets[i] = o;
                any = true;
            }
        }
        return any ? new L2ReadAhead(file, offsets, fileLength, table.length, (int) Math.max(1, AHEAD_BYTES / clusterSize))
                : null;
    }

    /**
     * The L2 table at {@code offset}, which L1 entry {@code index} names: from memory, else from
     * {@code ahead} (if not null) when it has it, else read now.
     */
    private long[] readL2(long offset, L2ReadAhead ahead, int index) {
        long[] entries = ahead == null ? null : ahead.take(index);
        long[] cached = read.get(offset);
        if (cached != null) {
            return cached;
        }
        if (cachedBytes + clusterSize > CACHE_BYTES) {
            return entries != null ? entries : file.readL2(offset, fileLength, table);
        }
        if (entries == null) {
            entries = file.readL2(offset, fileLength, new long[table.length]);
        }
        read.put(offset, entries);
        cachedBytes += clusterSize;
        return entries;
    }
}
