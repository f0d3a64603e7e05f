package io.qsnapfs.engine.read;

import static io.qsnapfs.io.Closeables.closeQuietly;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.format.SnapshotLookup;
import io.qsnapfs.io.PositionalFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An open qcow2 image: its header, its snapshot table, its backing chain and external data file,
 * and the metadata reads that every view of it shares (L2 tables, compressed clusters).
 *
 * <p>Opening validates everything that can be checked without walking the tables; views validate
 * their L1 table when they are made and each L2 table when it is first read. Metadata is read
 * through process-wide caches bounded in bytes, so the memory a mount uses does not grow with the
 * number or size of images.
 */
public final class QcowImage implements Closeable {
    /** Bytes of L2 tables kept in memory, for all images together. */
    private static final long L2_CACHE_BYTES = 64L << 20;
    /** Bytes of decompressed clusters kept in memory, for all images together. */
    private static final long CLUSTER_CACHE_BYTES = 32L << 20;

    private static final BoundedCache<TableKey, long[]> L2_CACHE =
            new BoundedCache<>(L2_CACHE_BYTES, 16, t -> t.length * 8 + 48);
    private static final BoundedCache<TableKey, byte[]> CLUSTER_CACHE =
            new BoundedCache<>(CLUSTER_CACHE_BYTES, 16, b -> b.length + 48);

    /** Identifies a cached table by the image instance (identity) and its offset in the file. */
    private record TableKey(QcowImage owner, long offset) {
    }

    private final String name;
    private final ImageFile file;
    private final QcowHeader header;
    private final List<SnapshotEntry> snapshots;
    private final PositionalFile dataFile;
    private final BackingChain.Backing backing;
    private volatile Qcow2View activeView;

    private QcowImage(String name, ImageFile file, QcowHeader header, List<SnapshotEntry> snapshots,
            PositionalFile dataFile, BackingChain.Backing backing) {
        this.name = name;
        this.file = file;
        this.header = header;
        this.snapshots = List.copyOf(snapshots);
        this.dataFile = dataFile;
        this.backing = backing;
    }

    /** Opens an image read-only, with its backing chain and data file. */
    public static QcowImage open(Path path) {
        return BackingChain.openQcow(path, new BackingChain());
    }

    /**
     * Opens the image file itself; {@link BackingChain} calls this and then attaches the backing
     * file. Closes {@code file} on failure.
     */
    static QcowImage openFile(Path path, BackingChain chain) {
        ImageFile file = ImageFile.openReadOnly(path);
        String name = file.name();
        PositionalFile dataFile = null;
        try {
            long fileSize = file.length();
            QcowHeader header = file.readHeader();
            file.checkTablePlacement(header, fileSize);
            List<SnapshotEntry> snapshots = file.readSnapshotTable(header, fileSize);
            if (header.hasDataFile()) {
                Path dataPath = BackingChain.resolve(path, header.dataFileName());
                if (!Files.exists(dataPath)) {
                    throw ImageException.notFound(name, "external data file '" + header.dataFileName()
                            + "' not found (looked at " + dataPath + ")");
                }
                try {
                    dataFile = PositionalFile.openReadOnly(dataPath);
                } catch (IOException e) {
                    throw ImageException.io(name, "cannot open external data file " + dataPath, e);
                }
            }
            BackingChain.Backing backing = chain.openBacking(path, name, header);
            return new QcowImage(name, file, header, snapshots, dataFile, backing);
        } catch (RuntimeException e) {
            closeQuietly(file, dataFile);
            throw e;
        }
    }

    /** True when the file starts with the qcow2 magic (how images are told apart, not by suffix). */
    public static boolean hasMagic(Path path) throws IOException {
        try (PositionalFile f = PositionalFile.openReadOnly(path)) {
            return f.size() >= 4 && f.read(0, 4).getInt(0) == QcowHeader.MAGIC;
        }
    }

    public String name() {
        return name;
    }

    public Path path() {
        return file.path();
    }

    public QcowHeader header() {
        return header;
    }

    /**
     * The image file as its metadata is read, for what counts over its tables (exclusive clusters,
     * {@code io.qsnapfs.engine.check.ExclusiveClusters}) on this very file, even after its path
     * names another.
     */
    public ImageFile imageFile() {
        return file;
    }

    /** The snapshots in table order. */
    public List<SnapshotEntry> snapshots() {
        return snapshots;
    }

    /** The backing file, or null; its own backing files hang off it. */
    public BackingChain.Backing backing() {
        return backing;
    }

    /** The external data file, or null. */
    public Path dataFilePath() {
        return dataFile == null ? null : dataFile.path();
    }

    /** The file's length when it was opened (or last found to be longer). */
    public long fileSize() {
        return currentFileSize(0);
    }

    /** The current state of the disk (the active L1 table). */
    public Qcow2View activeView() {
        Qcow2View v = activeView;
        if (v == null) {
            long[] l1 = readL1(header.l1TableOffset(), header.l1Size(), "active L1 table");
            v = new Qcow2View(this, l1, header.size(), name);
            activeView = v;
        }
        return v;
    }

    /**
     * The disk as it was when the snapshot was taken: the snapshot's own L1 table and disk size,
     * like QEMU's {@code qcow2_snapshot_load_tmp}. An entry without a recorded disk size (too
     * little extra data, as in old v2 images) uses the image's current size, as QEMU does.
     */
    public Qcow2View snapshotView(SnapshotEntry snapshot) {
        checkSnapshotDiskSize(snapshot);
        long[] l1 = readL1(snapshot.l1TableOffset(), snapshot.l1Size(),
                "L1 table of snapshot " + snapshot.idString());
        return new Qcow2View(this, l1, snapshotDiskSize(snapshot), name + " snapshot " + snapshot.idString());
    }

    /**
     * QEMU always gives a snapshot an L1 table that covers its disk (the active table, which covers
     * the image's size, is copied when the snapshot is made). A recorded disk size beyond the
     * snapshot's L1 table is corrupt, and would make a view of up to 2^63 bytes.
     */
    private void checkSnapshotDiskSize(SnapshotEntry snapshot) {
        if (!snapshot.hasDiskSize()) {
            return;
        }
        long needed = header.l1EntriesFor(snapshot.diskSize());
        long entries = Integer.toUnsignedLong(snapshot.l1Size());
        if (needed > entries) {
            throw ImageException.corrupt(name, "snapshot " + snapshot.idString() + " has a disk size of "
                    + snapshot.diskSize() + " bytes, which needs " + needed + " L1 entries, but its L1 table has only "
                    + entries + " entries");
        }
    }

    /** The disk size of a snapshot, falling back to the image's size when the entry has none. */
    public long snapshotDiskSize(SnapshotEntry snapshot) {
        return snapshot.hasDiskSize() ? snapshot.diskSize() : header.size();
    }

    /**
     * The saved VM state of a snapshot (empty for disk-only snapshots). QEMU stores it in the
     * snapshot's L1 tree right after the disk area, at the first L1 entry past the disk.
     */
    public BlockSource vmStateView(SnapshotEntry snapshot) {
        checkSnapshotDiskSize(snapshot);
        long start = header.l1EntriesFor(snapshotDiskSize(snapshot)) * header.bytesPerL1Entry();
        long length = snapshot.vmStateSize();
        long[] l1 = readL1(snapshot.l1TableOffset(), snapshot.l1Size(),
                "L1 table of snapshot " + snapshot.idString());
        if (length < 0 || start > Long.MAX_VALUE - length) {
            throw ImageException.corrupt(name, "snapshot " + snapshot.idString() + " has an invalid VM state size "
                    + Long.toUnsignedString(length));
        }
        // QEMU writes the VM state through the active L1 table, growing it as needed, before it copies
        // that table for the snapshot: a VM state reaching past the snapshot's L1 table is corrupt.
        long covered = l1.length * header.bytesPerL1Entry();
        if (length > 0 && start + length > covered) {
            throw ImageException.corrupt(name, "snapshot " + snapshot.idString() + " VM state of " + length
                    + " bytes at guest offset " + Hex.of(start) + " runs past its L1 table of " + l1.length
                    + " entries");
        }
        Qcow2View whole = new Qcow2View(this, l1, start + length, name + " snapshot " + snapshot.idString());
        return new SliceSource(whole, start, length, name + " snapshot " + snapshot.idString() + " VM state");
    }

    /** The snapshot with exactly this ID, or null. */
    public SnapshotEntry findById(String id) {
        return SnapshotLookup.byId(snapshots, id);
    }

    /** The first snapshot (in table order) with this name, or null. */
    public SnapshotEntry findByName(String snapshotName) {
        return SnapshotLookup.byName(snapshots, snapshotName);
    }

    /** Like QEMU: an ID match wins, then the first name match ({@link SnapshotLookup}). Throws NOT_FOUND otherwise. */
    public SnapshotEntry findSnapshot(String idOrName) {
        List<SnapshotEntry> found = SnapshotLookup.matches(snapshots, idOrName);
        if (found.isEmpty()) {
            throw ImageException.notFound(name, "no snapshot with ID or name '" + idOrName + "'");
        }
        return found.get(0);
    }

    /** Reads and validates an L1 table. */
    long[] readL1(long offset, int entries, String what) {
        long[] l1 = file.readL1(header, offset, entries, currentFileSize(offset + Integer.toUnsignedLong(entries) * 8),
                what);
        for (int i = 0; i < l1.length; i++) {
            long l2Offset = l1[i] & L2Entry.OFFSET_MASK;
            if ((l2Offset & (header.clusterSize() - 1)) != 0) {
                throw ImageException.corrupt(name, what + " entry " + i + " points to an L2 table at "
                        + Hex.of(l2Offset) + " that is not aligned to a cluster boundary");
            }
        }
        return l1;
    }

    /** The L2 table at {@code offset}, raw entries (interleaved with bitmaps for extended L2). */
    long[] l2Table(long offset) {
        return L2_CACHE.get(new TableKey(this, offset), key -> {
            long clusterSize = header.clusterSize();
            return file.readL2(offset, currentFileSize(offset + clusterSize), new long[(int) (clusterSize / 8)]);
        });
    }

    /** Has the kernel start reading the L2 tables at {@code offsets} ({@link ImageFile#prefetch}). */
    void prefetchL2Tables(long[] offsets) {
        file.prefetch(offsets, header.clusterSize());
    }

    /** The decompressed guest cluster described by a compressed L2 entry. */
    byte[] compressedCluster(long entry) {
        int clusterBits = header.clusterBits();
        long offset = L2Entry.compressedOffset(entry, clusterBits);
        return CLUSTER_CACHE.get(new TableKey(this, offset), key -> {
            if (dataFile != null) {
                throw ImageException.corrupt(name, "compressed cluster at " + Hex.of(offset)
                        + " in an image with an external data file");
            }
            long length = L2Entry.compressedLength(entry, clusterBits);
            if (offset < header.clusterSize()) {
                throw ImageException.corrupt(name, "compressed cluster at " + Hex.of(offset)
                        + " points into the image header");
            }
            long fileSize = currentFileSize(offset + 1);
            if (offset >= fileSize) {
                throw ImageException.corrupt(name, "compressed cluster at " + Hex.of(offset)
                        + " lies beyond the end of the file (" + fileSize + " bytes)");
            }
            byte[] input = new byte[(int) length + 1];
            file.readFully(offset, ByteBuffer.wrap(input, 0, (int) length), "compressed cluster at " + Hex.of(offset));
            byte[] out = new byte[1 << clusterBits];
            if (!Decompressor.decompress(header.compressionType(), input, (int) length, out)) {
                throw ImageException.corrupt(name, "compressed cluster at " + Hex.of(offset)
                        + " does not decompress to a whole cluster");
            }
            return out;
        });
    }

    /** The file normal clusters are read from: the external data file, or the image itself. */
    PositionalFile dataClusterFile() {
        return dataFile != null ? dataFile : file.file();
    }

    boolean hasDataFile() {
        return dataFile != null;
    }

    /** The backing disk, or null. */
    BlockSource backingSource() {
        return backing == null ? null : backing.source();
    }

    /** The image file's length, covering {@code needed} if it can; see {@link PositionalFile#lengthCovering}. */
    long currentFileSize(long needed) {
        return file.lengthCovering(needed);
    }

    /** Length of the file data clusters are read from (the external data file, or the image). */
    long dataFileSize(long needed) {
        try {
            return dataClusterFile().lengthCovering(needed);
        } catch (IOException e) {
            throw ImageException.io(name, dataFile != null ? "cannot stat external data file" : "cannot stat", e);
        }
    }

    @Override
    public void close() {
        List<Closeable> all = new ArrayList<>();
        all.add(file);
        if (dataFile != null) {
            all.add(dataFile);
        }
        if (backing != null) {
            all.add(backing);
        }
        closeQuietly(all.toArray(new Closeable[0]));
    }

    @Override
    public String toString() {
        return "QcowImage[" + file.path() + "]";
    }
}
