package io.qsnapfs.engine;

import io.qsnapfs.format.Hex;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import io.qsnapfs.io.ClusterFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;

/**
 * The stored refcounts of an image, read through its refcount table (see {@link RefcountTable}
 * for the table layout and {@link RefcountBlock} for the packing of a block).
 *
 * <p>The table is read once when this is made; refcount blocks are read on demand and kept in a
 * small least-recently-used cache bounded in bytes, so the memory used does not grow with the
 * image. Lookups are thread-safe.
 *
 * <p>This class only reads. The writer ({@link RefcountEditor}) keeps its own copy of what it
 * changes and reads the image afresh for every operation.
 */
public final class Refcounts {
    /** Bytes of refcount blocks cached per image (at least 16 blocks). */
    private static final long CACHE_BYTES = 1L << 20;

    private final String name;
    private final ClusterFile file;
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

    private Refcounts(String name, ClusterFile file, QcowHeader header, long[] table, boolean padPastEnd,
            long cacheBytes) {
        this.name = name;
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
     * @param name the image's name, for messages
     * @throws ImageException CORRUPT when the table lies (partly) beyond the end of the file, IO on
     *         read errors
     */
    public static Refcounts load(String name, ClusterFile file, QcowHeader header) {
        return load(name, file, header, CACHE_BYTES);
    }

    /** {@link #load(String, ClusterFile, QcowHeader)} with a cache of about {@code cacheBytes}. */
    static Refcounts load(String name, ClusterFile file, QcowHeader header, long cacheBytes) {
        long fileSize;
        try {
            fileSize = file.size();
        } catch (IOException e) {
            throw ImageException.io(name, "cannot stat", e);
        }
        return new Refcounts(name, file, header, readTable(name, file, header, fileSize), false, cacheBytes);
    }

    /**
     * Reads the entries of the refcount table named by the header, refusing a table beyond the
     * 8 MiB limit or not within the first {@code fileSize} bytes of the file. The reader and the
     * writer ({@link RefcountEditor}) both read the table through here.
     */
    static long[] readTable(String name, ClusterFile file, QcowHeader header, long fileSize) {
        long entries = RefcountTable.entries(Integer.toUnsignedLong(header.refcountTableClusters()),
                header.clusterBits());
        long bytes = entries * 8;
        if (bytes > QcowHeader.MAX_REFTABLE_BYTES) {
            throw ImageException.corrupt(name, "refcount table of " + entries + " entries exceeds the 8 MiB limit");
        }
        long offset = header.refcountTableOffset();
        if (offset > fileSize - bytes) {
            throw ImageException.corrupt(name, "refcount table at " + Hex.of(offset) + " (" + bytes
                    + " bytes) lies beyond the end of the file (" + fileSize + " bytes)");
        }
        try {
            return file.readLongs(offset, (int) entries);
        } catch (IOException e) {
            throw ImageException.io(name, "read error in the refcount table", e);
        }
    }

    /**
     * Refuses a refcount block (of table entry {@code tableIndex}) that is not cluster aligned, that
     * has bit 63 set, or, when {@code fileSize} is not negative, that does not lie within the file.
     */
    static void checkBlockPlacement(String name, long tableIndex, long blockOffset, long clusterSize,
            long fileSize) {
        if ((blockOffset & (clusterSize - 1)) != 0) {
            throw ImageException.corrupt(name, "refcount block " + tableIndex + " at " + Hex.of(blockOffset)
                    + " is not aligned to a cluster boundary");
        }
        // Offsets come from 64-bit entries: one with bit 63 set is negative, and past any file.
        if (blockOffset < 0 || (fileSize >= 0 && blockOffset > fileSize - clusterSize)) {
            throw ImageException.corrupt(name, "refcount block " + tableIndex + " at " + Hex.of(blockOffset)
                    + " lies beyond the end of the file (" + fileSize + " bytes)");
        }
    }

    /**
     * Reads the refcount table the way QEMU's check sees it: whatever lies past the end of the file
     * reads as zeros, for the table and for every block, and nothing is refused for its placement
     * (the check reports that itself). Misaligned blocks still fail in {@link #get}.
     */
    static Refcounts loadForCheck(String name, ClusterFile file, QcowHeader header) {
        try {
            long entries = RefcountTable.entries(Integer.toUnsignedLong(header.refcountTableClusters()),
                    header.clusterBits());
            if (entries * 8 > QcowHeader.MAX_REFTABLE_BYTES) {
                throw ImageException.corrupt(name, "refcount table of " + entries + " entries exceeds the 8 MiB limit");
            }
            return new Refcounts(name, file, header, file.readLongs(header.refcountTableOffset(), (int) entries),
                    true, CACHE_BYTES);
        } catch (IOException e) {
            throw ImageException.io(name, "read error in the refcount table", e);
        }
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
        checkBlockPlacement(name, tableIndex, blockOffset, clusterSize,
                padPastEnd ? -1 : currentFileSize(blockOffset + clusterSize));
        byte[] b = readPadded(blockOffset);
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

    /**
     * Reads one cluster at {@code offset} with no checks: bytes past the end of the file read as
     * zeros, the way QEMU's file driver returns them. The consistency check reads blocks that way
     * to see exactly what QEMU sees.
     */
    byte[] readPadded(long offset) {
        byte[] b = new byte[1 << clusterBits];
        try {
            file.readFully(offset, ByteBuffer.wrap(b));
        } catch (IOException e) {
            throw ImageException.io(name, "read error in the refcount block at " + Hex.of(offset), e);
        }
        return b;
    }

    private long currentFileSize(long needed) {
        try {
            return file.lengthCovering(needed);
        } catch (IOException e) {
            throw ImageException.io(name, "cannot stat", e);
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
