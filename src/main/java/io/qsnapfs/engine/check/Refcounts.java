package io.qsnapfs.engine.check;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import java.util.LinkedHashMap;

/**
 * The stored refcounts of an image, read through its refcount table (see {@link RefcountTable}
 * for the table layout and {@link RefcountBlock} for the packing of a block).
 *
 * <p>The table is read once when this is made; refcount blocks are read on demand and kept in a
 * small least-recently-used cache bounded in bytes, so the memory used does not grow with the
 * image. Lookups are thread-safe.
 *
 * <p>This class only reads, for the reader and the check. The writer keeps its own copy of what it
 * changes.
 */
final class Refcounts {
    /** Bytes of refcount blocks cached per image (at least 16 blocks). */
    private static final long CACHE_BYTES = 1L << 20;

    private final String name;
    private final ImageFile file;
    private final int clusterBits;
    private final int refcountOrder;
    private final int blockBits;
    private final long[] table;
    private final long tableOffset;
    private final LinkedHashMap<Long, byte[]> cache = new LinkedHashMap<>(32, 0.75f, true);
    private final int cacheCapacity;
    /** Read like QEMU does, zeros past the end of the file, instead of refusing (for the check). */
    private final boolean padPastEnd;
    /** The block used last, checked before the map. */
    private volatile LastBlock last;

    private record LastBlock(long offset, byte[] data) {
    }

    private Refcounts(ImageFile file, QcowHeader header, long[] table, boolean padPastEnd, long cacheBytes) {
        this.name = file.name();
        this.file = file;
        this.clusterBits = header.clusterBits();
        this.refcountOrder = header.refcountOrder();
        this.blockBits = RefcountBlock.blockBits(clusterBits, refcountOrder);
        this.table = table;
        this.tableOffset = header.refcountTableOffset();
        this.cacheCapacity = (int) Math.max(16, cacheBytes >> clusterBits);
        this.padPastEnd = padPastEnd;
    }

    /**
     * Reads the refcount table named by the header.
     *
     * @throws ImageException CORRUPT when the table lies (partly) beyond the end of the file, IO on
     *         read errors
     */
    static Refcounts load(ImageFile file, QcowHeader header) {
        return load(file, header, CACHE_BYTES);
    }

    /** {@link #load(ImageFile, QcowHeader)} with a cache of about {@code cacheBytes}. */
    static Refcounts load(ImageFile file, QcowHeader header, long cacheBytes) {
        return new Refcounts(file, header, file.readRefcountTable(header, file.length()), false, cacheBytes);
    }

    /**
     * Reads the refcount table the way QEMU's check sees it: whatever lies past the end of the file
     * reads as zeros, for the table and for every block, and nothing is refused for its placement
     * (the check reports that itself). Misaligned blocks still fail in {@link #get}.
     */
    static Refcounts loadForCheck(ImageFile file, QcowHeader header) {
        return new Refcounts(file, header, file.readRefcountTable(header, -1), true, CACHE_BYTES);
    }

    /** Entries in the refcount table. */
    public int tableSize() {
        return table.length;
    }

    /** Raw refcount table entry {@code index}, reserved bits included. */
    public long tableEntry(int index) {
        return table[index];
    }

    /** Byte offset of the refcount table in the file. */
    public long tableOffset() {
        return tableOffset;
    }

    /** log2 of the number of entries per refcount block. */
    public int blockBits() {
        return blockBits;
    }

    public int refcountOrder() {
        return refcountOrder;
    }

    /** The largest refcount an entry can hold (-1 for 2^64 - 1 with 64-bit refcounts). */
    public long refcountMax() {
        return RefcountBlock.maxRefcount(refcountOrder);
    }

    /** Number of host clusters the table can describe (table entries times entries per block). */
    public long clustersCovered() {
        return (long) table.length << blockBits;
    }

    /**
     * The stored refcount of host cluster {@code clusterIndex} (byte offset
     * {@code clusterIndex * cluster_size}). Clusters beyond the table or under a zero table entry
     * have refcount 0. 64-bit refcounts are unsigned.
     *
     * @throws ImageException CORRUPT when the refcount block is not cluster aligned or lies beyond
     *         the end of the file; IO on read errors
     */
    public long get(long clusterIndex) {
        if (clusterIndex < 0) {
            throw new IllegalArgumentException("negative cluster index " + clusterIndex);
        }
        long tableIndex = clusterIndex >>> blockBits;
        if (tableIndex >= table.length) {
            return 0;
        }
        long blockOffset = RefcountTable.blockOffset(tableEntry((int) tableIndex));
        if (blockOffset == 0) {
            return 0;
        }
        byte[] block = block((int) tableIndex, blockOffset);
        return RefcountBlock.get(block, refcountOrder, (int) (clusterIndex & ((1L << blockBits) - 1)));
    }

    /** The refcount of the cluster holding byte {@code offset}. */
    public long getAt(long offset) {
        return get(offset >>> clusterBits);
    }

    private byte[] block(int tableIndex, long blockOffset) {
        LastBlock recent = last;
        if (recent != null && recent.offset == blockOffset) {
            return recent.data; // lookups mostly run along the file: skip the map (and boxing)
        }
        synchronized (cache) {
            byte[] b = cache.get(blockOffset);
            if (b != null) {
                last = new LastBlock(blockOffset, b);
                return b;
            }
        }
        long clusterSize = 1L << clusterBits;
        file.checkBlockPlacement(tableIndex, blockOffset, clusterSize,
                padPastEnd ? -1 : file.lengthCovering(blockOffset + clusterSize));
        byte[] b = file.readRefcountBlock(blockOffset, new byte[1 << clusterBits]);
        remember(blockOffset, b);
        return b;
    }

    private void remember(long blockOffset, byte[] block) {
        synchronized (cache) {
            cache.put(blockOffset, block);
            while (cache.size() > cacheCapacity) {
                var it = cache.entrySet().iterator();
                it.next();
                it.remove();
            }
            last = new LastBlock(blockOffset, block);
        }
    }

    /** Cached blocks, for tests. */
    int cachedBlocks() {
        synchronized (cache) {
            return cache.size();
        }
    }

    @Override
    public String toString() {
        return "Refcounts[" + name + ", " + table.length + " table entries, " + (1 << refcountOrder) + " bits]";
    }
}
