package io.qsnapfs.engine;

import io.qsnapfs.format.Hex;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * The writer's one way to the file: every metadata write names the structure it is for, and is
 * refused before it reaches the file when it would land anywhere else (QEMU's
 * {@code qcow2_pre_write_overlap_check}). The guard knows, cluster by cluster, which structure
 * holds each metadata cluster of the image: the header, the active L1 table, the refcount table and
 * blocks, the snapshot table, every snapshot's L1 table and every L2 table any L1 table names.
 * Structures a writer makes are claimed when their clusters are allocated, before they are written,
 * so an allocator that hands out a cluster in use is caught at the claim; a structure that is
 * replaced (the refcount table when it moves) is released once the header no longer names it.
 *
 * <p>Data clusters and the clusters of persistent bitmaps are not tracked: the writer never writes
 * data, and it never writes near bitmaps (their clusters keep their refcounts, so the allocator does
 * not hand them out).
 *
 * <p>Writes of one step that may go out in any order (no sync between them) can be collected in a
 * {@link WriteBatch}, checked here when added, written in offset order with neighbours merged.
 *
 * <p>Memory: one map entry per metadata cluster (L2 tables, L1 and refcount clusters), a small
 * fraction of the image's clusters.
 */
public final class MetadataGuard {
    /** The kinds of metadata, with the words messages use for them. */
    public enum Structure {
        HEADER("header"),
        ACTIVE_L1("active L1 table"),
        L2("L2 table"),
        REFCOUNT_TABLE("refcount table"),
        REFCOUNT_BLOCK("refcount block"),
        SNAPSHOT_TABLE("snapshot table"),
        SNAPSHOT_L1("L1 table of a snapshot");

        private final String words;

        Structure(String words) {
            this.words = words;
        }

        /** How messages name this kind of structure ("refcount block"). */
        public String words() {
            return words;
        }
    }

    /** Writes to any structure of a kind, for batched writes of several (refcount blocks). */
    public static final long ANY = -1;

    /** One structure: its kind and where it starts. */
    private record Region(Structure kind, long offset) {
        @Override
        public String toString() {
            return "the " + kind.words + " at " + Hex.of(offset);
        }
    }

    private final String name;
    private final ImageFile file;
    private final int clusterBits;
    private final Map<Long, Region> byCluster = new HashMap<>();

    /** A guard that knows no structure yet, for the image {@code file} with clusters of 2^clusterBits bytes. */
    public MetadataGuard(ImageFile file, int clusterBits) {
        this.name = file.name();
        this.file = file;
        this.clusterBits = clusterBits;
    }

    /**
     * Records that {@code [offset, offset + length)} holds the structure {@code kind} starting at
     * {@code offset}. Claiming the same structure again changes nothing.
     *
     * @throws ImageException CORRUPT when a cluster of it already holds another structure: on an
     *         image as found, two structures share a cluster; for a new structure, the allocator
     *         handed out a cluster in use
     */
    public void claim(Structure kind, long offset, long length) {
        Region r = new Region(kind, offset);
        for (long c = offset >>> clusterBits, last = (offset + length - 1) >>> clusterBits; length > 0 && c <= last; c++) {
            Region other = byCluster.putIfAbsent(c, r);
            if (other != null && !other.equals(r)) {
                throw ImageException.corrupt(name, "cluster " + Hex.of(c << clusterBits) + " would be both " + r
                        + " and " + other + "; nothing of this was written");
            }
        }
    }

    /** Forgets the structure {@code kind} at {@code offset}: its clusters are free to take. */
    public void release(Structure kind, long offset, long length) {
        Region r = new Region(kind, offset);
        for (long c = offset >>> clusterBits, last = (offset + length - 1) >>> clusterBits; length > 0 && c <= last; c++) {
            byCluster.remove(c, r);
        }
    }

    /**
     * Writes {@code data} at {@code offset} if every cluster it touches belongs to the structure
     * {@code kind} at {@code structure} ({@link #ANY}: to structures of that kind).
     *
     * @throws ImageException CORRUPT, with the file untouched, when the write would land on another
     *         structure or outside the known metadata; IO on a write error
     */
    public void write(Structure kind, long structure, long offset, ByteBuffer data) {
        check(kind, structure, offset, data.remaining());
        file.write(offset, data, structure == ANY ? kind.words + "s" : "the " + kind.words);
    }

    /** A batch for writes of one step, checked here as they are added ({@link WriteBatch}). */
    public WriteBatch batch() {
        return new WriteBatch(this, file);
    }

    /**
     * Refuses a write of {@code length} bytes at {@code offset} unless every cluster it touches
     * belongs to the structure {@code kind} at {@code structure} ({@link #ANY}: to structures of
     * that kind).
     */
    void check(Structure kind, long structure, long offset, int length) {
        for (long c = offset >>> clusterBits, last = (offset + length - 1) >>> clusterBits; length > 0 && c <= last; c++) {
            Region r = byCluster.get(c);
            if (r == null || r.kind() != kind || structure != ANY && r.offset() != structure) {
                String meant = structure == ANY ? "a " + kind.words : "the " + kind.words + " at " + Hex.of(structure);
                throw ImageException.corrupt(name, "a write of " + length + " bytes at " + Hex.of(offset)
                        + " meant for " + meant + " would land on " + (r == null ? "cluster " + Hex.of(c << clusterBits)
                        + ", which holds no metadata" : r.toString()) + "; refused before it reached the file");
            }
        }
    }

    /** Makes everything written so far durable. */
    public void sync() {
        file.sync();
    }
}
