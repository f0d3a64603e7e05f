package io.qsnapfs.engine.check;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.BitmapDirectory;
import io.qsnapfs.format.Features;
import io.qsnapfs.format.FormatException;
import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import io.qsnapfs.format.SnapshotEntry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The refcount and metadata consistency check of a qcow2 image, with the findings and the
 * numbers of {@code qemu-img check} (QEMU 7.2) and without changing the image.
 *
 * <p>The check rebuilds the refcount every host cluster should have by walking all metadata, one
 * reference per pointer:
 * <ul>
 * <li>the header cluster (cluster 0);
 * <li>the active L1 table, every L2 table it names and every host cluster those map: normal and
 *     allocated-zero clusters once each, compressed clusters once for every host cluster their
 *     byte range {@code [offset, end of its last 512-byte sector)} touches;
 * <li>the same for the L1 table of every snapshot, so a cluster shared by n tables counts n times;
 * <li>the snapshot table, the refcount table, every refcount block;
 * <li>persistent bitmaps (when autoclear bit 0 vouches for them): the bitmap directory, each
 *     bitmap table and its data clusters.
 * </ul>
 * Data clusters in an external data file are not counted. A reference reaching one cluster or
 * more past the end of the file is an error and is not counted.
 *
 * <p>Then every host cluster up to the end of the file is compared with its stored refcount:
 * stored below expected is a corruption ({@code ERROR cluster N refcount=a reference=b}), stored
 * above expected a leak ({@code Leaked cluster ...}), whatever the expected value, as QEMU counts
 * them. Stored refcounts of clusters past the end of the file are not compared (QEMU neither).
 * Last, the COPIED flags of the active L1 table and its L2 tables must be set exactly where the
 * stored refcount is 1. Along the way malformed entries (reserved bits, misaligned offsets,
 * corrupt subcluster bitmaps, misplaced refcount blocks, incomplete v3 snapshot entries) are
 * corruptions too.
 *
 * <p>The walk of one snapshot's tables also serves {@link ExclusiveClusters} ({@link
 * #countSnapshot}), so that what deleting a snapshot frees is counted exactly as the check counts.
 *
 * <p>Memory: one byte per host cluster for the rebuilt counts (plus a page of longs for each
 * 4096 clusters holding one with a count above 254), one cluster buffer, one L1 table at a time
 * and a small cache of refcount blocks. An image needing more than half of the JVM's heap is
 * refused with a check error.
 */
public final class ConsistencyCheck {
    /** Findings kept in the result; the rest are only counted. */
    public static final int MAX_MESSAGES = 1000;

    /** Standard L2 entry bits that must be zero (1-8, 56-61); bit 0 and 62/63 have meanings. */
    private static final long L2_STD_RESERVED_MASK = 0x3f000000000001feL;
    /** QEMU's limit on L1 entries (32 MiB of table). */
    private static final long MAX_L1_ENTRIES = QcowHeader.MAX_L1_BYTES / 8;

    /**
     * How far a check has got: bytes of metadata read (L2 tables, the active ones twice, and the
     * refcount blocks compared) of those it will read, which it counts before it starts.
     */
    @FunctionalInterface
    public interface Progress {
        void checked(long done, long total);

        /** A progress that ignores every report (nothing is counted in advance for it). */
        Progress NONE = (done, total) -> {
        };
    }

    /** Thrown inside the check when it cannot go on; becomes an incomplete result. */
    private static final class Abort extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Abort(String message) {
            super(message, null, false, false);
        }
    }

    private final String filename;
    private final String name;
    private final ImageFile file;
    private final QcowHeader header;
    private final long fileLength;
    private final int clusterBits;
    private final long clusterSize;
    private final boolean dataFile;
    private final boolean subclusters;
    private final int l2Entries;
    private final int entryWords;
    private final long refcountMax;
    private final long[] l2;
    private final ByteBuffer l2Bytes;

    private ClusterTally tally;
    private Progress progress = Progress.NONE;
    /** Metadata clusters the check reads in all, has read, and had read at the last report. */
    private long workTotal;
    private long workDone;
    private long workReported;
    /** Where {@link #reference} counts: the tally, or the count of one snapshot's references. */
    private ReferenceCounter counter;
    private long snapshotTableSize;
    private boolean storedUnreadable;
    private long checkErrors;
    private long corruptions;
    private long leaks;
    private long allocated;
    private long fragmented;
    private long compressed;
    private long highestCluster;
    private final List<String> messages = new ArrayList<>();
    private long messagesDropped;

    private ConsistencyCheck(String filename, String name, ImageFile file, QcowHeader header, long fileLength) {
        this.filename = filename;
        this.name = name;
        this.file = file;
        this.header = header;
        this.fileLength = fileLength;
        this.clusterBits = header.clusterBits();
        this.clusterSize = header.clusterSize();
        this.dataFile = header.hasDataFile();
        this.subclusters = header.hasExtendedL2();
        this.entryWords = header.l2EntryWords();
        this.l2Entries = header.l2Entries();
        this.refcountMax = RefcountBlock.maxRefcount(header.refcountOrder());
        this.l2 = new long[(int) (clusterSize / 8)];
        this.l2Bytes = ByteBuffer.allocate((int) clusterSize).order(ByteOrder.BIG_ENDIAN);
    }

    /**
     * Checks the image at {@code path}, which is opened read-only and never written.
     *
     * @return the findings; {@link CheckResult#complete()} is false when the check had to stop
     * @throws ImageException when the image cannot be opened at all (no file, not qcow2, a header
     *         that breaks the spec, encryption, unknown incompatible features)
     */
    public static CheckResult run(Path path) {
        return run(path, Progress.NONE);
    }

    /** {@link #run(Path)}, telling {@code progress} how far it has got. */
    public static CheckResult run(Path path, Progress progress) {
        try (ImageFile file = ImageFile.openReadOnly(path)) {
            ConsistencyCheck check = new ConsistencyCheck(path.toString(), file.name(), file, file.readHeader(),
                    file.length());
            check.progress = progress;
            return check.check();
        }
    }

    private CheckResult check() {
        String failure = null;
        long totalClusters = ceilDiv((header.size() / 512) * 512, clusterSize);
        long imageEnd = 0;
        try {
            long nbClusters = ceilDiv(fileLength, clusterSize);
            long budget = Math.min(ClusterTally.MAX_CLUSTERS, Runtime.getRuntime().maxMemory() / 2);
            if (nbClusters > budget) {
                checkErrors++;
                throw new Abort(name + ": the file holds " + nbClusters + " clusters of " + clusterSize
                        + " bytes; counting their references needs " + (nbClusters >> 20)
                        + " MiB of memory, more than this check may use (" + (budget >> 20) + " MiB)");
            }
            tally = new ClusterTally(nbClusters);
            counter = tally;
            List<SnapshotEntry> snapshots = readSnapshots();
            Refcounts refcounts = Refcounts.loadForCheck(file, header);
            if (progress != Progress.NONE) {
                workTotal = plannedWork(snapshots, nbClusters, refcounts.blockBits());
            }

            reference(0, clusterSize);
            long[] activeL1 = checkL1(header.l1TableOffset(), header.l1Size(), true);
            checkSnapshots(snapshots);
            reference(header.refcountTableOffset(), (long) refcounts.tableSize() * 8);
            checkBitmaps();
            checkRefcountBlocks(refcounts);
            compare(refcounts);
            checkCopied(refcounts, activeL1);
            imageEnd = (highestCluster + 1) * clusterSize;
            report(workTotal);
        } catch (Abort a) {
            failure = a.getMessage();
        } catch (ImageException e) {
            checkErrors++;
            failure = e.getMessage();
        }
        return new CheckResult(filename, "qcow2", failure == null, failure, checkErrors, corruptions, leaks,
                imageEnd, totalClusters, allocated, fragmented, compressed, messages, messagesDropped);
    }

    // ---- snapshots ------------------------------------------------------------------------

    /**
     * Reads the snapshot table as QEMU's check does: entry by entry, bytes past the end of the
     * file reading as zeros (so a table placed beyond the end yields empty entries whose
     * references are then reported), at most 64 MiB of table.
     */
    private List<SnapshotEntry> readSnapshots() {
        List<SnapshotEntry> list = file.readSnapshotTable(header, -1);
        snapshotTableSize = 0;
        for (int i = 0; i < list.size(); i++) {
            SnapshotEntry sn = list.get(i);
            snapshotTableSize += i < list.size() - 1 ? sn.encodedLength() : rawLength(sn);
        }
        if (header.version() >= 3) {
            for (int i = 0; i < list.size(); i++) {
                if (list.get(i).extraData().length < SnapshotEntry.EXTRA_V3_MIN) {
                    corruption("ERROR snapshot table entry " + i + " is incomplete");
                }
            }
        }
        return list;
    }

    private void checkSnapshots(List<SnapshotEntry> snapshots) {
        if (dataFile && !snapshots.isEmpty()) {
            corruption("ERROR " + snapshots.size() + " snapshots in image with data file");
        }
        for (SnapshotEntry sn : snapshots) {
            checkSnapshot(sn);
        }
        // The table's size: its entries, each padded to 8 bytes except the last.
        reference(header.snapshotsOffset(), snapshotTableSize);
    }

    /** Counts a snapshot's L1 table, its L2 tables and their clusters (the VM state's among them). */
    private void checkSnapshot(SnapshotEntry sn) {
        long l1Size = Integer.toUnsignedLong(sn.l1Size());
        if ((sn.l1TableOffset() & (clusterSize - 1)) != 0) {
            corruption("ERROR snapshot " + sn.idString() + " (" + sn.nameString() + ") l1_offset="
                    + hexPrefixed(sn.l1TableOffset())
                    + ": L1 table is not cluster aligned; snapshot table entry corrupted");
            return;
        }
        if (l1Size > MAX_L1_ENTRIES) {
            corruption("ERROR snapshot " + sn.idString() + " (" + sn.nameString() + ") l1_size="
                    + hexPrefixed(l1Size) + ": L1 table is too large; snapshot table entry corrupted");
            return;
        }
        checkL1(sn.l1TableOffset(), sn.l1Size(), false);
    }

    /**
     * Counts into {@code into} the references the tables of {@code snapshot} make, exactly as the
     * check counts them: each cluster of its L1 table, the L2 table of each L1 entry, and in each
     * L2 table each data cluster and every host cluster a compressed entry's range touches, one
     * per pointer. Reads {@code file} as the check does, whose length is {@code fileLength}.
     *
     * @return the corruptions the check would report along the way (at most {@link #MAX_MESSAGES});
     *         empty when these tables are sound
     * @throws ImageException IO on a read error
     */
    static List<String> countSnapshot(ImageFile file, QcowHeader header, long fileLength, SnapshotEntry snapshot,
            ReferenceCounter into) {
        ConsistencyCheck walk = new ConsistencyCheck(file.path().toString(), file.name(), file, header, fileLength);
        walk.counter = into;
        walk.checkSnapshot(snapshot);
        return walk.corruptions == 0 ? List.of() : List.copyOf(walk.messages);
    }

    private static long rawLength(SnapshotEntry sn) {
        return SnapshotEntry.FIXED_SIZE + sn.extraData().length + sn.id().length + sn.name().length;
    }

    // ---- L1 and L2 tables -----------------------------------------------------------------

    /** Counts an L1 table, its L2 tables and their clusters; returns the table's entries. */
    private long[] checkL1(long offset, int size, boolean active) {
        long count = Integer.toUnsignedLong(size);
        if (count == 0) {
            return new long[0];
        }
        reference(offset, count * 8);
        long[] l1 = new long[(int) count];
        readInto(offset, (int) count * 8, "L1 table at " + hexPrefixed(offset)).asLongBuffer().get(l1);
        for (int i = 0; i < l1.length; i++) {
            long entry = l1[i];
            if (entry == 0) {
                continue;
            }
            if ((entry & L2Entry.L1_RESERVED_MASK) != 0) {
                corruption("ERROR found L1 entry with reserved bits set: " + hex(entry));
            }
            long l2Offset = entry & L2Entry.OFFSET_MASK;
            reference(l2Offset, clusterSize);
            if ((l2Offset & (clusterSize - 1)) != 0) {
                corruption("ERROR l2_offset=" + hex(l2Offset) + ": Table is not cluster aligned; L1 entry corrupted");
            }
            checkL2(l2Offset, active);
            advance();
        }
        return l1;
    }

    private void readL2(long offset) {
        readInto(offset, (int) clusterSize, "L2 table at " + hexPrefixed(offset)).asLongBuffer().get(l2);
    }

    private void checkL2(long l2Offset, boolean active) {
        readL2(l2Offset);
        long nextContiguous = 0;
        for (int i = 0; i < l2Entries; i++) {
            long entry = l2[i * entryWords];
            long bitmap = subclusters ? l2[i * 2 + 1] : 0;
            L2Entry.Kind type = L2Entry.kind(entry, subclusters, dataFile);
            if (type != L2Entry.Kind.COMPRESSED && (entry & L2_STD_RESERVED_MASK) != 0) {
                corruption("ERROR found l2 entry with reserved bits set: " + hex(entry));
            }
            switch (type) {
                case COMPRESSED -> {
                    if ((entry & L2Entry.COPIED) != 0) {
                        corruption("ERROR: coffset=0x" + hex(L2Entry.compressedOffset(entry, clusterBits))
                                + ": copied flag must never be set for compressed clusters");
                        entry &= ~L2Entry.COPIED;
                    }
                    if (dataFile) {
                        corruption("ERROR compressed cluster " + i + " with data file, entry=0x" + hex(entry));
                        continue;
                    }
                    if (bitmap != 0) {
                        corruption("ERROR compressed cluster " + i
                                + " with non-zero subcluster allocation bitmap, entry=0x" + hex(entry));
                        continue;
                    }
                    reference(L2Entry.compressedOffset(entry, clusterBits),
                            L2Entry.compressedLength(entry, clusterBits));
                    if (active) {
                        allocated++;
                        compressed++;
                        fragmented++;
                    }
                }
                case NORMAL, ZERO_ALLOC -> {
                    long offset = entry & L2Entry.OFFSET_MASK;
                    if (((bitmap >>> 32) & bitmap) != 0) {
                        corruption("ERROR offset=" + hex(offset)
                                + ": Allocated cluster has corrupted subcluster allocation bitmap");
                    }
                    if ((offset & (clusterSize - 1)) != 0) {
                        boolean containsData = subclusters ? (bitmap & L2Entry.BITMAP_ALL_ALLOC) != 0
                                : (entry & L2Entry.ZERO) == 0;
                        corruption("ERROR offset=" + hex(offset) + (containsData
                                ? ": Data cluster is not properly aligned; L2 entry corrupted."
                                : ": Preallocated cluster is not properly aligned; L2 entry corrupted."));
                    }
                    if (active) {
                        allocated++;
                        if (nextContiguous != 0 && offset != nextContiguous) {
                            fragmented++;
                        }
                        nextContiguous = offset + clusterSize;
                    }
                    if (!dataFile) {
                        reference(offset, clusterSize);
                    }
                }
                case UNALLOCATED -> {
                    if ((bitmap & L2Entry.BITMAP_ALL_ALLOC) != 0) {
                        corruption("ERROR: Unallocated cluster has non-zero subcluster allocation map");
                    }
                }
                case ZERO_PLAIN -> {
                    // reads as zeros, owns no cluster
                }
            }
        }
    }

    // ---- bitmaps --------------------------------------------------------------------------

    private void checkBitmaps() {
        HeaderExtension ext = header.extension(HeaderExtension.BITMAPS);
        if (ext == null || (header.autoclearFeatures() & Features.AUTOCLEAR_BITMAPS) == 0) {
            return; // without the autoclear bit QEMU ignores the bitmaps (their clusters leak)
        }
        BitmapDirectory dir;
        try {
            dir = BitmapDirectory.parseExtension(ext.data(), clusterSize);
        } catch (FormatException e) {
            checkErrors++;
            throw new Abort(name + ": " + e.getMessage());
        }
        reference(dir.directoryOffset(), dir.directorySize());
        byte[] bytes = new byte[(int) dir.directorySize()];
        readInto(dir.directoryOffset(), bytes.length, "bitmap directory").get(bytes);
        List<BitmapDirectory.Entry> entries;
        try {
            entries = dir.parseEntries(bytes, clusterSize);
        } catch (FormatException e) {
            corruption("ERROR bitmap directory: " + e.getMessage());
            throw new Abort(name + ": " + e.getMessage());
        }
        for (BitmapDirectory.Entry bm : entries) {
            reference(bm.tableOffset(), bm.tableSize() * 8);
            long[] table = new long[(int) bm.tableSize()];
            readInto(bm.tableOffset(), table.length * 8, "table of bitmap '" + bm.name() + "'").asLongBuffer().get(table);
            for (long entry : table) {
                if (BitmapDirectory.invalidTableEntry(entry, clusterSize)) {
                    corruption("ERROR bitmap '" + bm.name() + "' has an invalid table entry " + hex(entry));
                    continue;
                }
                long offset = entry & BitmapDirectory.TABLE_OFFSET_MASK;
                if (offset != 0) {
                    reference(offset, clusterSize);
                }
            }
        }
    }

    // ---- refcount structures --------------------------------------------------------------

    private void checkRefcountBlocks(Refcounts refcounts) {
        for (int i = 0; i < refcounts.tableSize(); i++) {
            long entry = refcounts.tableEntry(i);
            long offset = RefcountTable.blockOffset(entry);
            long cluster = offset >>> clusterBits;
            if (RefcountTable.hasReservedBits(entry)) {
                corruption("ERROR refcount table entry " + i + " has reserved bits set");
                continue;
            }
            if ((offset & (clusterSize - 1)) != 0) {
                corruption("ERROR refcount block " + i + " is not cluster aligned; refcount table entry corrupted");
                continue;
            }
            if (Long.compareUnsigned(cluster, tally.size()) >= 0) {
                corruption("ERROR refcount block " + i + " is outside image");
                continue;
            }
            if (offset != 0) {
                reference(offset, clusterSize);
                long count = tally.get(cluster);
                if (count != 1) {
                    corruption("ERROR refcount block " + i + " refcount=" + Long.toUnsignedString(count));
                }
            }
        }
    }

    /** Compares the rebuilt counts with the stored ones, block by block. */
    private void compare(Refcounts refcounts) {
        long clusters = tally.size();
        int blockBits = refcounts.blockBits();
        int order = refcounts.refcountOrder();
        highestCluster = 0;
        for (long first = 0; first < clusters; first += 1L << blockBits) {
            long tableIndex = first >>> blockBits;
            long end = Math.min(clusters, first + (1L << blockBits));
            advance();
            byte[] block = null;
            boolean unreadable = false;
            if (tableIndex < refcounts.tableSize()) {
                long offset = RefcountTable.blockOffset(refcounts.tableEntry((int) tableIndex));
                if ((offset & (clusterSize - 1)) != 0) {
                    unreadable = true;
                } else if (offset != 0) {
                    block = file.readRefcountBlock(offset, new byte[(int) clusterSize]);
                }
            }
            for (long c = first; c < end; c++) {
                if (unreadable) {
                    checkErrors++;
                    message("Can't get refcount for cluster " + c + ": Input/output error");
                    continue;
                }
                long stored = block == null ? 0 : RefcountBlock.get(block, order, (int) (c - first));
                long expected = tally.get(c);
                if (stored != 0 || expected != 0) {
                    highestCluster = c;
                }
                if (stored != expected) {
                    String counts = " refcount=" + Long.toUnsignedString(stored) + " reference="
                            + Long.toUnsignedString(expected);
                    if (Long.compareUnsigned(stored, expected) < 0) {
                        corruption("ERROR cluster " + c + counts);
                    } else {
                        leaks++;
                        message("Leaked cluster " + c + counts);
                    }
                }
            }
        }
    }

    /** COPIED must be set in the active tables exactly where the stored refcount is 1. */
    private void checkCopied(Refcounts refcounts, long[] activeL1) {
        for (int i = 0; i < activeL1.length; i++) {
            long l1Entry = activeL1[i];
            long l2Offset = l1Entry & L2Entry.OFFSET_MASK;
            if (l2Offset == 0) {
                continue;
            }
            long refcount = stored(refcounts, l2Offset >>> clusterBits);
            if (storedUnreadable) {
                continue; // an unreadable refcount block; already reported by the comparison
            }
            if ((refcount == 1) != ((l1Entry & L2Entry.COPIED) != 0)) {
                corruption("ERROR OFLAG_COPIED L2 cluster: l1_index=" + i + " l1_entry=" + hex(l1Entry)
                        + " refcount=" + Long.toUnsignedString(refcount));
            }
            readL2(l2Offset);
            advance();
            for (int j = 0; j < l2Entries; j++) {
                long entry = l2[j * entryWords];
                L2Entry.Kind type = L2Entry.kind(entry, subclusters, dataFile);
                if (type != L2Entry.Kind.NORMAL && type != L2Entry.Kind.ZERO_ALLOC) {
                    continue;
                }
                long rc = dataFile ? 1 : stored(refcounts, (entry & L2Entry.OFFSET_MASK) >>> clusterBits);
                if (!dataFile && storedUnreadable) {
                    continue;
                }
                if ((rc == 1) != ((entry & L2Entry.COPIED) != 0)) {
                    corruption("ERROR OFLAG_COPIED data cluster: l2_entry=" + hex(entry) + " refcount="
                            + Long.toUnsignedString(rc));
                }
            }
        }
    }

    /**
     * A stored refcount; sets {@link #storedUnreadable} when its refcount block cannot be used
     * (misaligned), as QEMU then skips the entry silently.
     */
    private long stored(Refcounts refcounts, long cluster) {
        storedUnreadable = false;
        try {
            return refcounts.get(cluster);
        } catch (ImageException e) {
            if (e.kind() == ImageException.Kind.CORRUPT) {
                storedUnreadable = true;
                return 0;
            }
            throw e;
        }
    }

    // ---- progress -------------------------------------------------------------------------

    /**
     * The metadata clusters the check will read: the L2 table of every L1 entry of the active
     * table (twice: the references, then the COPIED flags) and of every snapshot's, and a refcount
     * block for each block's worth of the file's clusters. The L1 tables are read a cluster at a
     * time for this, never whole.
     */
    private long plannedWork(List<SnapshotEntry> snapshots, long nbClusters, int blockBits) {
        long work = 2 * l2Tables(header.l1TableOffset(), header.l1Size());
        for (SnapshotEntry sn : snapshots) {
            if ((sn.l1TableOffset() & (clusterSize - 1)) == 0 && Integer.toUnsignedLong(sn.l1Size()) <= MAX_L1_ENTRIES) {
                work += l2Tables(sn.l1TableOffset(), sn.l1Size());
            }
        }
        return work + ceilDiv(nbClusters, 1L << blockBits);
    }

    /** The entries of the L1 table at {@code offset} that name an L2 table. */
    private long l2Tables(long offset, int size) {
        long count = Integer.toUnsignedLong(size);
        long tables = 0;
        for (long i = 0; i < count; i += l2.length) {
            int n = (int) Math.min(l2.length, count - i);
            LongBuffer entries = readInto(offset + i * 8, n * 8, "L1 table at " + hexPrefixed(offset)).asLongBuffer();
            for (int j = 0; j < n; j++) {
                if (entries.get(j) != 0) {
                    tables++;
                }
            }
        }
        return tables;
    }

    /** One more metadata cluster read; reported every thousandth of the work. */
    private void advance() {
        if (progress == Progress.NONE) {
            return;
        }
        workDone++;
        if (workDone - workReported >= Math.max(1, workTotal / 1000)) {
            report(workDone);
        }
    }

    private void report(long done) {
        if (progress != Progress.NONE) {
            workReported = done;
            progress.checked(Math.min(done, workTotal) * clusterSize, workTotal * clusterSize);
        }
    }

    // ---- counting -------------------------------------------------------------------------

    /**
     * Adds one reference to every cluster touched by {@code [offset, offset + size)}. A range
     * ending one cluster or more past the end of the file is an error and is not counted (the
     * last cluster may legitimately be cut short, e.g. by compressed data written at the end).
     */
    private void reference(long offset, long size) {
        if (size <= 0) {
            return;
        }
        if (offset < 0 || offset > Long.MAX_VALUE / 2 || offset + size - fileLength >= clusterSize) {
            corruption("ERROR: counting reference for region exceeding the end of the file by one cluster or more: "
                    + "offset 0x" + hex(offset) + " size 0x" + hex(size));
            return;
        }
        long first = offset >>> clusterBits;
        long last = (offset + size - 1) >>> clusterBits;
        for (long k = first; k <= last; k++) {
            if (!counter.increment(k, refcountMax)) {
                corruption("ERROR: overflow cluster offset=0x" + hex(k << clusterBits));
            }
        }
    }

    /** Reads a structure as QEMU's check does: zeros past the end of the file; a read error ends the check. */
    private ByteBuffer readInto(long offset, int length, String what) {
        ByteBuffer b = length == l2Bytes.capacity() ? l2Bytes.clear() : ByteBuffer.allocate(length);
        file.readFully(offset, b, what);
        return b.flip().order(ByteOrder.BIG_ENDIAN);
    }

    private void corruption(String message) {
        corruptions++;
        message(message);
    }

    private void message(String message) {
        if (messages.size() < MAX_MESSAGES) {
            messages.add(message);
        } else {
            messagesDropped++;
        }
    }

    private static String hex(long v) {
        return Long.toHexString(v);
    }

    /** C's {@code %#x}: "0" for zero, else "0x..." */
    private static String hexPrefixed(long v) {
        return v == 0 ? "0" : "0x" + Long.toHexString(v);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
