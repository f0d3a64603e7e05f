package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.engine.MetadataGuard.Structure;
import io.qsnapfs.engine.MetadataGuard;
import io.qsnapfs.format.Features;
import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.HeaderFields;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.format.SnapshotLookup;
import io.qsnapfs.io.Closeables;
import io.qsnapfs.io.ImageLock;
import io.qsnapfs.io.LockConflictException;
import io.qsnapfs.io.PositionalFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongUnaryOperator;

/**
 * A qcow2 image opened for the read-write snapshot operations of QEMU's {@code qcow2-snapshot.c}:
 * create, delete and apply (QEMU's "goto").
 *
 * <p>Every operation starts from the file as it is (header, snapshot table and refcount table are
 * read afresh), does all its reading, checking and refcount arithmetic in memory, and only then
 * writes, in an order where each sync leaves an image that {@code qemu-img check} finds free of
 * corruption: a crash can leak clusters, never lose or share one wrongly. The order at each step
 * is documented where it happens. The image's snapshot list after a crash is the old one or the
 * new one, decided by one 12-byte header write.
 *
 * <p>Operations on one instance are serialized. Other processes are kept out by QEMU's own locks
 * (see {@link #open}).
 */
public final class WritableImage implements Closeable {
    /** Autoclear bits we keep: bitmaps (their clusters are untouched) and raw external data. */
    private static final long AUTOCLEAR_KEPT = 0x3L;
    /** Bytes of extra data in the entries we create: VM state size, disk size, icount. */
    private static final int NEW_EXTRA_DATA = SnapshotEntry.EXTRA_WITH_ICOUNT;

    private final String name;
    private final ImageFile file;
    private final Closeable lock;
    /** The identity, or a fault a test injects into the allocator ({@link #withAllocationFault}). */
    private final LongUnaryOperator allocationFault;
    /**
     * The metadata as read by the last look that no operation has used yet: {@link #open} and
     * {@link #snapshots} read it, the next operation takes it instead of reading it again (the
     * write locks keep other writers out meanwhile). Every operation leaves it empty, since it
     * changes the file. Guarded by this.
     */
    private State unused;

    private WritableImage(ImageFile file, Closeable lock, LongUnaryOperator allocationFault) {
        this.name = file.name();
        this.file = file;
        this.lock = lock;
        this.allocationFault = allocationFault;
    }

    /**
     * Opens {@code path} read-write and takes QEMU's OFD locks for a writer.
     *
     * @throws ImageException BUSY when another process (a running QEMU) holds the image; UNSUPPORTED
     *         or CORRUPT when the image must not be written (corrupt bit, unknown incompatible
     *         features, encryption, external data file, dirty lazy refcounts); IO, NOT_FOUND
     */
    public static WritableImage open(Path path) {
        ImageFile file = ImageFile.openReadWrite(path);
        String name = file.name();
        ImageLock lock;
        try {
            lock = ImageLock.acquireForWrite(file.file().descriptor());
        } catch (LockConflictException e) {
            Closeables.closeQuietly(file);
            throw new ImageException(ImageException.Kind.BUSY, name + ": in use by another process (" + e.reason()
                    + "); stop the VM or program that has it open, then try again", e);
        } catch (IOException e) {
            Closeables.closeQuietly(file);
            throw ImageException.io(name, "cannot take QEMU's image locks", e);
        }
        return start(file, lock, LongUnaryOperator.identity());
    }

    /**
     * Works on an already open file, taking no locks: for tests that record the writes (crash
     * replay). The file is closed by {@link #close()}.
     */
    public static WritableImage over(PositionalFile file) {
        return start(ImageFile.over(file), null, LongUnaryOperator.identity());
    }

    /**
     * Like {@link #over}, with every cluster offset the allocator hands out passed through
     * {@code fault}: for tests that show the {@link MetadataGuard} stops an allocator that hands out
     * clusters in use.
     */
    static WritableImage withAllocationFault(PositionalFile file, LongUnaryOperator fault) {
        return start(ImageFile.over(file), null, fault);
    }

    private static WritableImage start(ImageFile file, Closeable lock, LongUnaryOperator allocationFault) {
        WritableImage image = new WritableImage(file, lock, allocationFault);
        try {
            image.unused = image.load(); // refuse an image we must not write at once
            return image;
        } catch (RuntimeException e) {
            image.close();
            throw e;
        }
    }

    /** The snapshot table as it is now. */
    public synchronized List<SnapshotEntry> snapshots() {
        if (unused == null) {
            unused = load();
        }
        return unused.snapshots;
    }

    /** The metadata for an operation: what the last look read, if no operation used it, else read now. */
    private State take() {
        State s = unused != null ? unused : load();
        unused = null;
        return s;
    }

    // ---- create -----------------------------------------------------------------------------

    /**
     * Creates a disk-only snapshot named {@code name} (ID = largest numeric ID + 1, date now, VM
     * clock 0, icount -1).
     *
     * <p>Order of writes (QEMU's):
     * <ol>
     * <li>If the snapshot's copy of the L1 table needs clusters the refcount table cannot describe
     *     yet, the refcount table grows first ({@link RefcountEditor#reserveTableFor}: a crash-safe
     *     sequence of its own, consistent at every sync). Then, in memory: clusters for the copy,
     *     one more reference to everything the active L1 table reaches (an overflow or a malformed
     *     table stops here with nothing written beyond that growth).
     * <li>Write the L1 copy; clear COPIED everywhere in the active tables, as every refcount they
     *     reach is about to be at least 2 (before the refcounts themselves, so even a torn sequence
     *     never leaves COPIED on a shared cluster, where QEMU would write in place); write the
     *     refcounts; sync. Nothing references the copy yet: the new references are leaks.
     * <li>Write the new snapshot table into fresh clusters; sync. Still only leaks.
     * <li>The 12-byte header write of {@code nb_snapshots} and {@code snapshots_offset}; sync. This
     *     is the moment the snapshot exists; the leaks become its references.
     * <li>Free the old table's clusters; sync. A crash before this only leaks them.
     * </ol>
     *
     * @return the new entry
     * @throws ImageException EXISTS when the name is taken; INVALID_ARGUMENT for a bad name, too
     *         many snapshots, or refcounts that cannot count one more reference (e.g. 1-bit);
     *         NO_SPACE; IO
     */
    public synchronized SnapshotEntry create(String snapshotName) {
        byte[] nameBytes = checkName(name, snapshotName);
        State s = take();
        checkNameFree(name, s.snapshots, snapshotName);
        if (s.snapshots.size() >= QcowHeader.MAX_SNAPSHOTS) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": the image already has "
                    + s.snapshots.size() + " snapshots, the most qcow2 allows");
        }
        QcowHeader h = s.header;
        long[] l1 = s.tables.readL1(h.l1TableOffset(), h.l1Size(), "active L1 table"); // its tree prefetched by load
        // 1. the refcount table grown if the L1 copy needs it (its own crash-safe sequence, before
        // any reference is added: it writes the dirty refcount blocks, which must not yet hold the
        // new references while COPIED is still set); then, in memory, clusters for the L1 copy and
        // one more reference along the active tables.
        long l1Clusters = s.refcounts.clustersFor(l1.length * 8L);
        if (l1.length > 0) {
            s.refcounts.reserveTableFor(l1Clusters);
        }
        long l1Copy = l1.length == 0 ? 0 : s.refcounts.allocate(l1Clusters);
        s.guard.claim(Structure.SNAPSHOT_L1, l1Copy, l1.length * 8L);
        s.tables.adjust(l1, +1);
        Instant now = Instant.now();
        SnapshotEntry entry = new SnapshotEntry(l1Copy, l1.length, nextId(s.snapshots).getBytes(StandardCharsets.US_ASCII),
                nameBytes, now.getEpochSecond(), (now.getNano() / 1000) * 1000L, 0, 0, h.size(), -1,
                new byte[NEW_EXTRA_DATA]);
        List<SnapshotEntry> updated = new ArrayList<>(s.snapshots);
        updated.add(entry);
        ByteBuffer table = SnapshotTable.encode(name, updated, h.size());

        PendingRelease oldTable = s.refcounts.pendingRelease();
        freeOldTable(s, oldTable); // worked out now, applied in step 5
        // 2. the L1 copy, COPIED cleared (all is shared now), the refcounts; sync (leaks only)
        clearUnknownAutoclear(s);
        if (l1.length > 0) {
            long[] copy = l1.clone();
            for (int i = 0; i < copy.length; i++) {
                copy[i] &= ~L2Entry.COPIED;
            }
            s.tables.writeTable(Structure.SNAPSHOT_L1, l1Copy, copy);
        }
        s.tables.clearCopied(l1, h.l1TableOffset(), Structure.ACTIVE_L1); // all shared with the copy now
        s.refcounts.flush();
        // 3. the new table into fresh clusters; sync (leaks only)
        long tableOffset = writeSnapshotTable(s, table);
        // 4. commit: the 12-byte header switch; sync
        switchSnapshotTable(s, updated.size(), tableOffset);
        // 5. the old table's clusters freed; sync (a crash before this leaks them)
        oldTable.apply();
        s.refcounts.flush();
        return entry;
    }

    // ---- delete -----------------------------------------------------------------------------

    /**
     * Deletes the snapshot with ID {@code idOrName}, else the one named so.
     *
     * <p>Order of writes:
     * <ol>
     * <li>Before any write, the releases of step 4 are worked out ({@link PendingRelease}: the
     *     snapshot's tree read and checked on the way) and the active tree step 4 walks is read and
     *     checked where it does not share the snapshot's L2 tables: a malformed table or a refcount
     *     that would drop below 0 found after the switch would leave the request done but reported
     *     failed.
     * <li>The table without the entry into fresh clusters (the refcount table grown first if they
     *     need it); sync. Only leaks.
     * <li>The 12-byte header switch; sync. The snapshot is gone; its clusters are merely leaked
     *     until the next step.
     * <li>In memory, the old table freed and one reference fewer along the snapshot's L1 table, its
     *     L1 table freed; the refcounts written before COPIED is set where they dropped to 1 (so a
     *     torn sequence never shows COPIED on a cluster still shared); sync.
     * </ol>
     *
     * @return the deleted entry
     * @throws ImageException NOT_FOUND; INVALID_ARGUMENT when the name is shared by several snapshots
     */
    public synchronized SnapshotEntry delete(String idOrName) {
        State s = take();
        SnapshotEntry victim = find(name, s.snapshots, idOrName);
        long[] snapshotL1 = s.tables.readL1(victim.l1TableOffset(), victim.l1Size(),
                "L1 table of snapshot " + victim.idString());
        QcowHeader h = s.header;
        long[] active = s.tables.readL1(h.l1TableOffset(), h.l1Size(), "active L1 table");
        s.tables.prefetch(snapshotL1); // the active tree's since load
        // 1. the releases worked out and both trees checked, before anything is written
        PendingRelease release = s.refcounts.pendingRelease();
        freeOldTable(s, release);
        s.tables.release(snapshotL1, release);
        release.removeRange(victim.l1TableOffset(), Integer.toUnsignedLong(victim.l1Size()) * 8);
        long[] checked = l2Offsets(snapshotL1);
        s.tables.check(active, l2 -> Arrays.binarySearch(checked, l2) >= 0);
        List<SnapshotEntry> updated = new ArrayList<>(s.snapshots);
        updated.remove(victim);
        ByteBuffer table = SnapshotTable.encode(name, updated, h.size());

        // 2. the table without the entry into fresh clusters; sync (leaks only)
        clearUnknownAutoclear(s);
        long tableOffset = updated.isEmpty() ? 0 : writeSnapshotTable(s, table);
        // 3. commit: the 12-byte header switch; sync. The snapshot is gone, its clusters leaked
        switchSnapshotTable(s, updated.size(), tableOffset);
        // 4. the references released, refcounts written before COPIED is set; sync
        release.apply();
        s.refcounts.write();
        s.tables.updateCopied(active, h.l1TableOffset(), Structure.ACTIVE_L1);
        s.guard.sync();
        return victim;
    }

    // ---- apply ------------------------------------------------------------------------------

    /**
     * Reverts the active layer to the snapshot with ID {@code idOrName}, else the one named so; the
     * image's virtual size becomes the snapshot's disk size, as QEMU 7.2 does (QEMU refuses that
     * resize for v2 images and for images with persistent bitmaps, and so do we).
     *
     * <p>Order of writes:
     * <ol>
     * <li>The refcount table grown if the new active L1 table needs it (its own crash-safe
     *     sequence); then, in memory: clusters for the new active L1 table (QEMU overwrites the old
     *     one in place; a fresh table makes the switch below one small write that cannot be torn);
     *     one more reference along the snapshot's L1 table (an overflow stops here).
     * <li>COPIED cleared in the snapshot's tables (all now shared); the new active table, a copy
     *     of the snapshot's padded with zeros to the larger of the two lengths; the refcounts;
     *     sync. Only leaks so far.
     * <li>The switch: one 24-byte header write of {@code size}, {@code crypt_method} (unchanged),
     *     {@code l1_size} and {@code l1_table_offset}; sync. The old active tables are now leaked.
     * <li>In memory: one reference fewer along the old active tables, the old active L1 table
     *     freed; refcounts written before COPIED is set where they dropped to 1; sync.
     * </ol>
     *
     * @return the applied entry
     */
    public synchronized SnapshotEntry apply(String idOrName) {
        State s = take();
        QcowHeader h = s.header;
        SnapshotEntry target = find(name, s.snapshots, idOrName);
        long diskSize = target.hasDiskSize() ? target.diskSize() : h.size();
        if (diskSize != h.size()) {
            if (h.version() < 3) {
                throw ImageException.unsupported(name, "snapshot " + target.idString() + " has a disk size of "
                        + diskSize + " bytes and the image " + h.size() + "; a v2 image with snapshots cannot be"
                        + " resized (QEMU refuses too)");
            }
            if (h.extension(HeaderExtension.BITMAPS) != null) {
                throw ImageException.unsupported(name, "snapshot " + target.idString() + " has a different disk size"
                        + " and the image has persistent bitmaps, which cannot be resized (QEMU refuses too)");
            }
        }
        long[] snapshotL1 = s.tables.readL1(target.l1TableOffset(), target.l1Size(),
                "L1 table of snapshot " + target.idString());
        long needed = h.l1EntriesFor(diskSize);
        if (needed > snapshotL1.length) {
            throw ImageException.corrupt(name, "snapshot " + target.idString() + " has a disk size of " + diskSize
                    + " bytes, which needs " + needed + " L1 entries, but its L1 table has only "
                    + snapshotL1.length);
        }
        long[] oldActive = s.tables.readL1(h.l1TableOffset(), h.l1Size(), "active L1 table");
        s.tables.prefetch(snapshotL1); // the active tree's since load
        PendingRelease release = s.refcounts.pendingRelease(); // the old active tree's, applied in step 4
        s.tables.release(oldActive, release);
        release.removeRange(h.l1TableOffset(), oldActive.length * 8L);
        int newSize = Math.max(snapshotL1.length, oldActive.length);
        // 1. the refcount table grown if need be; in memory: clusters for the new active table, one
        // more reference along the snapshot's. Allocate before adding references (see create).
        long newOffset = h.l1TableOffset();
        if (newSize > 0) {
            s.refcounts.reserveTableFor(s.refcounts.clustersFor(newSize * 8L));
            newOffset = s.refcounts.allocate(s.refcounts.clustersFor(newSize * 8L));
            s.guard.claim(Structure.ACTIVE_L1, newOffset, newSize * 8L);
        }
        s.tables.adjust(snapshotL1, +1);

        // 2. COPIED cleared in the snapshot's tables, the new active table, the refcounts; sync
        clearUnknownAutoclear(s);
        s.tables.clearCopied(snapshotL1, target.l1TableOffset(), Structure.SNAPSHOT_L1); // all shared now
        long[] newActive = Arrays.copyOf(snapshotL1, newSize);
        if (newSize > 0) {
            s.tables.writeTable(Structure.ACTIVE_L1, newOffset, newActive);
        }
        s.refcounts.flush();

        // 3. commit: one 24-byte header write (size, crypt_method, l1_size, l1_table_offset); sync
        s.guard.write(Structure.HEADER, 0, HeaderFields.SIZE_OFFSET,
                HeaderFields.sizeAndL1Table(diskSize, h.cryptMethod(), newSize, newOffset));
        s.guard.sync();

        // 4. the old active tables released, refcounts written before COPIED is set; sync
        release.apply();
        s.refcounts.write();
        s.tables.updateCopied(newActive, newOffset, Structure.ACTIVE_L1);
        s.guard.sync();
        return target;
    }

    // ---- shared steps -----------------------------------------------------------------------

    /** Everything an operation starts from, read afresh. */
    private record State(QcowHeader header, long fileLength, List<SnapshotEntry> snapshots,
            RefcountEditor refcounts, TableReferences tables, MetadataGuard guard) {
    }

    /** The L2 table offsets an L1 table names, sorted (for a binary search). */
    private static long[] l2Offsets(long[] l1) {
        return Arrays.stream(l1).map(e -> e & L2Entry.OFFSET_MASK).filter(o -> o != 0).sorted().toArray();
    }

    private State load() {
        long size = file.length();
        QcowHeader h = file.readHeader();
        refuseUnwritable(h);
        file.checkTablePlacement(h, size);
        List<SnapshotEntry> snapshots = file.readSnapshotTable(h, size);
        MetadataGuard guard = new MetadataGuard(file, h.clusterBits());
        guard.claim(Structure.HEADER, 0, h.clusterSize());
        guard.claim(Structure.ACTIVE_L1, h.l1TableOffset(), Integer.toUnsignedLong(h.l1Size()) * 8);
        if (!snapshots.isEmpty()) {
            guard.claim(Structure.SNAPSHOT_TABLE, h.snapshotsOffset(), SnapshotTable.length(snapshots));
        }
        RefcountEditor refcounts = RefcountEditor.load(file, h, size, guard, allocationFault);
        refcounts.claimStructures();
        TableReferences tables = new TableReferences(file, h, refcounts, size, guard);
        long[] active = tables.readL1(h.l1TableOffset(), h.l1Size(), "active L1 table");
        tables.claimL2Tables(active);
        for (SnapshotEntry e : snapshots) {
            guard.claim(Structure.SNAPSHOT_L1, e.l1TableOffset(), Integer.toUnsignedLong(e.l1Size()) * 8);
            tables.claimL2Tables(tables.readL1(e.l1TableOffset(), e.l1Size(), "L1 table of snapshot " + e.idString()));
        }
        // Every operation walks the active tree: the kernel reads it while the operation begins. Only
        // once the L1 tables are in: a read queued behind the prefetch waits for most of it.
        tables.prefetch(active);
        return new State(h, size, snapshots, refcounts, tables, guard);
    }

    /** What QEMU refuses to write, and what we refuse beyond it. */
    private void refuseUnwritable(QcowHeader h) {
        if (h.isCorrupt()) {
            throw ImageException.corrupt(name, "the image is marked corrupt; repair it with 'qemu-img check -r all'"
                    + " before changing its snapshots");
        }
        if (h.isDirty()) {
            throw ImageException.unsupported(name, "the image was not closed cleanly (dirty bit set, lazy refcounts),"
                    + " so its refcounts cannot be trusted; repair it with 'qemu-img check -r all' first");
        }
        if (h.hasDataFile()) {
            throw ImageException.unsupported(name, "the image keeps its data in an external data file; internal"
                    + " snapshots are not possible there (QEMU refuses them too)");
        }
        long unknown = h.incompatibleFeatures() & ~Features.INCOMPAT_KNOWN;
        if (unknown != 0 || h.cryptMethod() != 0) {
            throw ImageException.unsupported(name, "the image uses features this tool cannot write");
        }
        if (h.extension(HeaderExtension.FULL_DISK_ENCRYPTION) != null) {
            throw ImageException.unsupported(name, "encrypted images are not supported");
        }
    }

    /** QEMU clears the autoclear bits it does not know when it first writes; so do we. */
    private static void clearUnknownAutoclear(State s) {
        QcowHeader h = s.header;
        if (h.version() >= 3 && (h.autoclearFeatures() & ~AUTOCLEAR_KEPT) != 0) {
            s.guard.write(Structure.HEADER, 0, HeaderFields.AUTOCLEAR_OFFSET,
                    HeaderFields.autoclear(h.autoclearFeatures() & AUTOCLEAR_KEPT));
        }
    }

    /**
     * Writes {@code table} into fresh clusters and syncs it with their refcounts (the refcount table
     * grown first if they need it); returns its offset.
     */
    private long writeSnapshotTable(State s, ByteBuffer table) {
        s.refcounts.reserveTableFor(s.refcounts.clustersFor(table.remaining()));
        long offset = s.refcounts.allocate(s.refcounts.clustersFor(table.remaining()));
        long padded = s.refcounts.clustersFor(table.remaining()) * s.refcounts.clusterSize();
        s.guard.claim(Structure.SNAPSHOT_TABLE, offset, padded);
        ByteBuffer whole = ByteBuffer.allocate((int) padded).put(table).clear();
        s.guard.write(Structure.SNAPSHOT_TABLE, offset, offset, whole);
        s.refcounts.flush();
        return offset;
    }

    /** The one write that makes a new snapshot table current, synced. */
    private static void switchSnapshotTable(State s, int count, long offset) {
        s.guard.write(Structure.HEADER, 0, HeaderFields.SNAPSHOTS_OFFSET, HeaderFields.snapshotTable(count, offset));
        s.guard.sync();
    }

    /** Counts the release of the table the header pointed to when the operation began. */
    private static void freeOldTable(State s, PendingRelease release) {
        if (!s.snapshots.isEmpty()) {
            release.removeRange(s.header.snapshotsOffset(), SnapshotTable.length(s.snapshots));
        }
    }

    /**
     * The snapshot of {@code image} a write means by {@code idOrName}: the one with this ID, else
     * the one with this name ({@link SnapshotLookup}); a name shared by several is refused. The
     * rule of every write, ours or one handed to QEMU ({@link QemuHandoff}).
     */
    static SnapshotEntry find(String name, List<SnapshotEntry> snapshots, String idOrName) {
        List<SnapshotEntry> found = SnapshotLookup.matches(snapshots, idOrName);
        if (found.isEmpty()) {
            throw ImageException.notFound(name, "no snapshot with ID or name '" + idOrName + "'");
        }
        if (found.size() > 1) {
            List<String> ids = found.stream().map(SnapshotEntry::idString).toList();
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": the name '" + idOrName
                    + "' is shared by the snapshots with IDs " + String.join(", ", ids) + "; give the ID instead");
        }
        return found.get(0);
    }

    /** QEMU's rule: one more than the largest ID read as a number (leading digits; none is 0). */
    static String nextId(List<SnapshotEntry> snapshots) {
        long largest = 0;
        for (SnapshotEntry e : snapshots) {
            long value = 0;
            for (byte b : e.id()) {
                if (b < '0' || b > '9') {
                    break;
                }
                value = value > (Long.MAX_VALUE - 9) / 10 ? Long.MAX_VALUE : value * 10 + (b - '0');
            }
            largest = Math.max(largest, value);
        }
        return Long.toUnsignedString(largest + 1);
    }

    /** Refuses a new snapshot name that one of the snapshots of the image {@code name} has already (EXISTS). */
    static void checkNameFree(String name, List<SnapshotEntry> snapshots, String snapshotName) {
        byte[] nameBytes = snapshotName.getBytes(StandardCharsets.UTF_8);
        for (SnapshotEntry e : snapshots) {
            if (e.hasName(nameBytes)) {
                throw new ImageException(ImageException.Kind.EXISTS, name + ": a snapshot named '" + snapshotName
                        + "' exists already (ID " + e.idString() + ")");
            }
        }
    }

    /** A new snapshot's name as stored, refused when qcow2 cannot hold it (empty, too long, NUL). */
    static byte[] checkName(String name, String snapshotName) {
        byte[] bytes = snapshotName.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": a snapshot name cannot be empty");
        }
        if (bytes.length > 0xffff) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": a snapshot name of "
                    + bytes.length + " bytes is longer than the 65535 qcow2 allows");
        }
        if (snapshotName.indexOf('\0') >= 0) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name
                    + ": a snapshot name cannot contain a NUL byte");
        }
        return bytes;
    }

    /** Releases the locks and closes the file. */
    @Override
    public void close() {
        Closeables.closeQuietly(lock, file);
    }
}
