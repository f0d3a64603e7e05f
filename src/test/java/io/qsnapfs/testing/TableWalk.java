package io.qsnapfs.testing;

import io.qsnapfs.format.FormatException;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A deliberately small qcow2 table walker, written from the spec independently of the engine, so
 * tests can find and check facts about the images QEMU made (e.g. that a compressed range really
 * crosses a host cluster boundary, or where the refcount of a cluster is stored) without trusting
 * the code under test. It uses only the spec's parsers ({@code io.qsnapfs.format}) and reads the
 * file through {@link Poke} on every question, so it sees pokes made since it was created; only
 * the header is read once, when it is created, and validated by {@link QcowHeader#parse}. For an
 * image whose header is damaged on purpose, {@link #raw} answers the simpler questions from the
 * header's raw fields without validating anything.
 */
public class TableWalk {
    private final Path image;
    private final QcowHeader header;
    public final int clusterBits;
    public final boolean extendedL2;

    protected TableWalk(Path image) {
        this.image = image;
        this.header = readHeader(image);
        this.clusterBits = header.clusterBits();
        this.extendedL2 = header.hasExtendedL2();
    }

    public static TableWalk of(Path image) {
        return new TableWalk(image);
    }

    /** A lenient walker of {@code image} that reads raw header fields and validates nothing. */
    public static Raw raw(Path image) {
        return new Raw(image);
    }

    private static QcowHeader readHeader(Path image) {
        try {
            long size = Files.size(image);
            byte[] start = Poke.readBytes(image, 0, (int) Math.min(size, 4096));
            int clusterSize = 1 << QcowHeader.peekClusterBits(ByteBuffer.wrap(start));
            byte[] cluster = clusterSize <= start.length ? start
                    : Poke.readBytes(image, 0, (int) Math.min(size, clusterSize));
            return QcowHeader.parse(ByteBuffer.wrap(cluster));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (FormatException e) {
            throw new IllegalArgumentException(image + ": " + e.getMessage(), e);
        }
    }

    /** The image file walked. */
    public Path image() {
        return image;
    }

    /** The header as it was when this walker was created. */
    public QcowHeader header() {
        return header;
    }

    public long clusterSize() {
        return 1L << clusterBits;
    }

    /** The file's length now. */
    public long fileSize() {
        try {
            return Files.size(image);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- L1 and L2 tables -------------------------------------------------------------------

    /** One compressed L2 entry: host byte offset and the bytes its sector count allows. */
    public record Compressed(long hostOffset, long length) {
        /** True when the range touches two (or more) host clusters. */
        public boolean crossesCluster(int clusterBits) {
            return (hostOffset >>> clusterBits) != ((hostOffset + length - 1) >>> clusterBits);
        }
    }

    /** The (offset, size) of every L1 table: the active one first, then each snapshot's. */
    public List<long[]> l1Tables() {
        List<long[]> out = new ArrayList<>();
        out.add(new long[] {header.l1TableOffset(), Integer.toUnsignedLong(header.l1Size())});
        long pos = header.snapshotsOffset();
        for (int i = 0; i < header.nbSnapshots(); i++) {
            ByteBuffer fixed = fixedPart(image, pos);
            out.add(new long[] {fixed.getLong(0), Integer.toUnsignedLong(fixed.getInt(8))});
            pos = next(pos, fixed);
        }
        return out;
    }

    /** Every distinct compressed L2 entry reachable from any L1 table. */
    public Set<Compressed> compressedEntries() {
        Set<Compressed> out = new LinkedHashSet<>();
        int shift = 62 - (clusterBits - 8);
        long offsetMask = (1L << shift) - 1;
        long sectorMask = (1L << (clusterBits - 8)) - 1;
        int entryBytes = header.l2EntryBytes();
        int clusterSize = (int) clusterSize();
        long fileSize = fileSize();
        for (long[] l1 : l1Tables()) {
            ByteBuffer table = ByteBuffer.wrap(Poke.readBytes(image, l1[0], (int) (l1[1] * 8)));
            for (int i = 0; i < l1[1]; i++) {
                long l2 = table.getLong(i * 8) & L2Entry.OFFSET_MASK;
                if (l2 == 0 || l2 >= fileSize) {
                    continue;
                }
                ByteBuffer entries = ByteBuffer.wrap(Poke.readBytes(image, l2, clusterSize));
                for (int j = 0; j < clusterSize; j += entryBytes) {
                    long e = entries.getLong(j);
                    if ((e & L2Entry.COMPRESSED) != 0) {
                        long off = e & offsetMask;
                        long sectors = ((e >>> shift) & sectorMask) + 1;
                        out.add(new Compressed(off, sectors * 512 - (off & 511)));
                    }
                }
            }
        }
        return out;
    }

    /**
     * The guest clusters that L1 table {@code index} of {@link #l1Tables()} (0: the active one)
     * maps to host data: entries with a host offset that are neither compressed nor zero. Standard
     * (not extended) L2 entries only.
     */
    public BitSet dataClusters(int index) {
        if (extendedL2) {
            throw new IllegalArgumentException(image + ": dataClusters reads standard L2 entries only");
        }
        long[] l1 = l1Tables().get(index);
        int entries = header.l2Entries();
        int entryBytes = header.l2EntryBytes();
        BitSet out = new BitSet();
        ByteBuffer table = ByteBuffer.wrap(Poke.readBytes(image, l1[0], (int) (l1[1] * 8)));
        for (int i = 0; i < l1[1]; i++) {
            long l2 = table.getLong(i * 8) & L2Entry.OFFSET_MASK;
            if (l2 == 0) {
                continue;
            }
            ByteBuffer l2Table = ByteBuffer.wrap(Poke.readBytes(image, l2, (int) clusterSize()));
            for (int j = 0; j < entries; j++) {
                long e = l2Table.getLong(j * entryBytes);
                if ((e & (L2Entry.COMPRESSED | L2Entry.ZERO)) == 0 && (e & L2Entry.OFFSET_MASK) != 0) {
                    out.set(i * entries + j);
                }
            }
        }
        return out;
    }

    /**
     * Byte offset of the L2 entry for guest offset {@code guest} in the tree of L1 table
     * {@code index} of {@link #l1Tables()} (0: the active one), or -1 when that tree has no L2
     * table there.
     */
    public long l2EntryPos(int index, long guest) {
        long[] l1 = l1Tables().get(index);
        long i = guest >>> (clusterBits + header.l2Bits());
        long l2 = i < l1[1] ? Poke.readU64(image, l1[0] + i * 8) & L2Entry.OFFSET_MASK : 0;
        if (l2 == 0) {
            return -1;
        }
        return l2 + ((guest >>> clusterBits) & ((1L << header.l2Bits()) - 1)) * header.l2EntryBytes();
    }

    /** The L2 entry for {@code guest} in the tree of L1 table {@code index} (see {@link #l2EntryPos(int, long)}); 0 without an L2 table. */
    public long l2Entry(int index, long guest) {
        long pos = l2EntryPos(index, guest);
        return pos < 0 ? 0 : Poke.readU64(image, pos);
    }

    /** Byte offset of the active L1 entry covering guest offset {@code guest}. */
    public long l1EntryPos(long guest) {
        return header.l1TableOffset() + (guest >>> (clusterBits + header.l2Bits())) * 8;
    }

    /** Byte offset of the active L2 entry for guest offset {@code guest}; its L2 table must exist. */
    public long l2EntryPos(long guest) {
        long l2 = Poke.readU64(image, l1EntryPos(guest)) & L2Entry.OFFSET_MASK;
        if (l2 == 0) {
            throw new IllegalStateException("no L2 table for guest offset " + guest);
        }
        long index = (guest >>> clusterBits) & ((1L << header.l2Bits()) - 1);
        return l2 + index * header.l2EntryBytes();
    }

    /** The host cluster index a normal guest cluster maps to. */
    public long hostCluster(long guest) {
        return (Poke.readU64(image, l2EntryPos(guest)) & L2Entry.OFFSET_MASK) >>> clusterBits;
    }

    /** The cluster index of the L2 table covering guest offset {@code guest}. */
    public long l2Cluster(long guest) {
        return (Poke.readU64(image, l1EntryPos(guest)) & L2Entry.OFFSET_MASK) >>> clusterBits;
    }

    // ---- VM state -----------------------------------------------------------------------------

    /**
     * The guest offset at which snapshot {@code index} keeps its VM state, as the spec places it:
     * the first L1 entry past the snapshot's disk (disk_size from the entry's extra data, else the
     * header's size), each L1 entry covering a cluster of L2 entries of 8 bytes (16 with extended
     * L2). Computed here from the raw fields, not with the format layer's helpers.
     */
    public long vmStateOffset(int index) {
        SnapshotEntry s = snapshotEntry(index);
        long diskSize = s.hasDiskSize() ? s.diskSize() : header.size();
        int l1Shift = clusterBits + clusterBits - (extendedL2 ? 4 : 3);
        return ((diskSize + (1L << l1Shift) - 1) >>> l1Shift) << l1Shift;
    }

    /**
     * The vm_state_size bytes at {@link #vmStateOffset} of snapshot {@code index}, read through the
     * snapshot's own L1 and L2 tables: normal clusters (with extended L2, each subcluster by its
     * allocation bit) from the file, zero and unallocated ones as zeros. Meant for images without
     * a backing file (where unallocated would mean the backing file's bytes); compressed clusters
     * are refused (QEMU never compresses the VM state it saves).
     */
    public byte[] vmState(int index) {
        SnapshotEntry s = snapshotEntry(index);
        if (s.vmStateSize() < 0 || s.vmStateSize() > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(image + ": snapshot entry " + index + " has a VM state of "
                    + Long.toUnsignedString(s.vmStateSize()) + " bytes, more than this walker reads");
        }
        byte[] out = new byte[(int) s.vmStateSize()];
        long start = vmStateOffset(index);
        int l1Shift = clusterBits + clusterBits - (extendedL2 ? 4 : 3);
        int entryBytes = extendedL2 ? 16 : 8;
        int unitBits = extendedL2 ? clusterBits - 5 : clusterBits; // extended L2: 32 subclusters
        long l1Entries = Integer.toUnsignedLong(s.l1Size());
        for (int done = 0; done < out.length; ) {
            long guest = start + done;
            int n = (int) Math.min(out.length - done, (1L << unitBits) - (guest & ((1L << unitBits) - 1)));
            long l1Index = guest >>> l1Shift;
            long l2 = l1Index < l1Entries
                    ? Poke.readU64(image, s.l1TableOffset() + l1Index * 8) & L2Entry.OFFSET_MASK : 0;
            if (l2 != 0) {
                long l2Index = (guest >>> clusterBits) & ((1L << (l1Shift - clusterBits)) - 1);
                long entry = Poke.readU64(image, l2 + l2Index * entryBytes);
                if ((entry & L2Entry.COMPRESSED) != 0) {
                    throw new IllegalStateException(image + ": snapshot entry " + index
                            + " has a compressed cluster at VM state guest offset " + guest);
                }
                long host = entry & L2Entry.OFFSET_MASK;
                long inCluster = guest & (clusterSize() - 1);
                boolean data;
                if (extendedL2) {
                    long bitmap = Poke.readU64(image, l2 + l2Index * entryBytes + 8);
                    data = (bitmap & (1L << (inCluster >>> unitBits))) != 0;
                } else {
                    data = host != 0 && (entry & L2Entry.ZERO) == 0;
                }
                if (data) {
                    System.arraycopy(Poke.readBytes(image, host + inCluster, n), 0, out, done, n);
                }
            }
            done += n;
        }
        return out;
    }

    // ---- refcounts --------------------------------------------------------------------------

    /** Byte offset of the refcount table entry describing host cluster {@code cluster}. */
    public long refcountTableEntryPos(long cluster) {
        return header.refcountTableOffset() + (cluster >>> refcountBlockBits()) * 8;
    }

    /** Byte offset of the refcount block holding the refcount of {@code cluster}, or 0 when there is none. */
    public long refcountBlock(long cluster) {
        return RefcountTable.blockOffset(Poke.readU64(image, refcountTableEntryPos(cluster)));
    }

    /** The refcount stored for host cluster {@code cluster}; 0 when no refcount block covers it. */
    public long storedRefcount(long cluster) {
        long block = refcountBlock(cluster);
        if (block == 0) {
            return 0;
        }
        byte[] b = Poke.readBytes(image, block, (int) clusterSize());
        return RefcountBlock.get(b, header.refcountOrder(), refcountIndex(cluster));
    }

    /**
     * The number of host clusters whose stored refcount is not zero: the clusters the image holds,
     * as its refcount table and blocks say (the refcount table read as the header sizes it).
     */
    public long clustersInUse() {
        int entries = (int) RefcountTable.entries(Integer.toUnsignedLong(header.refcountTableClusters()), clusterBits);
        ByteBuffer table = ByteBuffer.wrap(Poke.readBytes(image, header.refcountTableOffset(), entries * 8));
        long perBlock = 1L << refcountBlockBits();
        long inUse = 0;
        for (int i = 0; i < entries; i++) {
            long block = RefcountTable.blockOffset(table.getLong(i * 8));
            if (block == 0) {
                continue;
            }
            byte[] b = Poke.readBytes(image, block, (int) clusterSize());
            for (int j = 0; j < perBlock; j++) {
                if (RefcountBlock.get(b, header.refcountOrder(), j) != 0) {
                    inUse++;
                }
            }
        }
        return inUse;
    }

    /**
     * The clusters of the structures every snapshot shares, which a snapshot operation may rewrite
     * or add to: the snapshot table (the host clusters its entries touch), the refcount table and
     * the refcount blocks.
     */
    public long sharedMetadataClusters() {
        long clusters = Integer.toUnsignedLong(header.refcountTableClusters());
        int entries = (int) RefcountTable.entries(clusters, clusterBits);
        ByteBuffer table = ByteBuffer.wrap(Poke.readBytes(image, header.refcountTableOffset(), entries * 8));
        for (int i = 0; i < entries; i++) {
            if (RefcountTable.blockOffset(table.getLong(i * 8)) != 0) {
                clusters++;
            }
        }
        int n = header.nbSnapshots();
        if (n > 0) {
            long start = header.snapshotsOffset();
            long end = snapshotEntryOffset(n - 1) + snapshotEntryLength(n - 1);
            clusters += ((end - 1) >>> clusterBits) - (start >>> clusterBits) + 1;
        }
        return clusters;
    }

    /** The index of {@code cluster}'s refcount in its refcount block. */
    protected int refcountIndex(long cluster) {
        return (int) (cluster & ((1L << refcountBlockBits()) - 1));
    }

    private int refcountBlockBits() {
        return RefcountBlock.blockBits(clusterBits, header.refcountOrder());
    }

    // ---- snapshot table ---------------------------------------------------------------------

    /** Byte offset in the file of snapshot entry {@code index} of the table. */
    public long snapshotEntryOffset(int index) {
        return entryOffset(image, header.snapshotsOffset(), index);
    }

    /** The length of snapshot entry {@code index}: its fixed part, extra data, ID and name, unpadded. */
    public int snapshotEntryLength(int index) {
        ByteBuffer fixed = fixedPart(image, snapshotEntryOffset(index));
        return SnapshotEntry.FIXED_SIZE + fixed.getInt(36) + (fixed.getShort(12) & 0xffff)
                + (fixed.getShort(14) & 0xffff);
    }

    /** Snapshot entry {@code index} of the table, parsed with {@link SnapshotEntry#parse}. */
    public SnapshotEntry snapshotEntry(int index) {
        long pos = snapshotEntryOffset(index);
        int length = snapshotEntryLength(index);
        try {
            SnapshotEntry.Parsed p = SnapshotEntry.parse(ByteBuffer.wrap(Poke.readBytes(image, pos, length)), 0, index);
            if (p == null) {
                throw new IllegalStateException(image + ": snapshot entry " + index + " does not fit in " + length
                        + " bytes");
            }
            return p.entry();
        } catch (FormatException e) {
            throw new IllegalStateException(image + ": snapshot entry " + index + ": " + e.getMessage(), e);
        }
    }

    /** Byte offset in {@code image} of entry {@code index} of the snapshot table at {@code table}. */
    private static long entryOffset(Path image, long table, int index) {
        long pos = table;
        for (int i = 0; i < index; i++) {
            pos = next(pos, fixedPart(image, pos));
        }
        return pos;
    }

    /** The fixed 40 bytes of the snapshot entry at {@code pos}. */
    private static ByteBuffer fixedPart(Path image, long pos) {
        return ByteBuffer.wrap(Poke.readBytes(image, pos, SnapshotEntry.FIXED_SIZE));
    }

    /** Where the entry after the one at {@code pos} starts: its fields' lengths, padded to 8. */
    private static long next(long pos, ByteBuffer fixed) {
        int idSize = fixed.getShort(12) & 0xffff;
        int nameSize = fixed.getShort(14) & 0xffff;
        int extra = fixed.getInt(36);
        return (pos + SnapshotEntry.FIXED_SIZE + extra + idSize + nameSize + 7) & ~7L;
    }

    // ---- lenient: raw header fields ---------------------------------------------------------

    /**
     * The questions a test asks about an image whose header it damages on purpose, answered from
     * the header's raw big-endian fields where the spec places them, without validating anything
     * (so a field poked to nonsense is read back as it is). Each question reads the file now, so
     * it sees pokes made since; snapshot entries are walked as {@link TableWalk} walks them.
     */
    public static final class Raw {
        private final Path image;

        private Raw(Path image) {
            this.image = image;
        }

        /** l1_table_offset (header bytes 40-47). */
        public long l1TableOffset() {
            return Poke.readU64(image, 40);
        }

        /** refcount_table_offset (header bytes 48-55). */
        public long refcountTableOffset() {
            return Poke.readU64(image, 48);
        }

        /** snapshots_offset (header bytes 64-71). */
        public long snapshotsOffset() {
            return Poke.readU64(image, 64);
        }

        /** The offset of the L2 table that active L1 entry {@code l1Index} points to; it must have one. */
        public long l2TableOffset(int l1Index) {
            long l2 = Poke.readU64(image, l1TableOffset() + l1Index * 8L) & L2Entry.OFFSET_MASK;
            if (l2 == 0) {
                throw new IllegalStateException("active L1 entry " + l1Index + " of " + image + " has no L2 table");
            }
            return l2;
        }

        /** The offset of the refcount block that refcount table entry {@code index} points to (0: none). */
        public long refcountBlockOffset(int index) {
            return RefcountTable.blockOffset(Poke.readU64(image, refcountTableOffset() + index * 8L));
        }

        /** Byte offset in the file of entry {@code index} of the snapshot table at snapshots_offset. */
        public long snapshotEntryOffset(int index) {
            return entryOffset(image, snapshotsOffset(), index);
        }
    }
}
