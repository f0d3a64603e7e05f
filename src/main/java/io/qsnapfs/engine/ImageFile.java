package io.qsnapfs.engine;

import io.qsnapfs.format.FormatException;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountTable;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.io.LibC;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.io.Threads;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A qcow2 image file as its metadata sees it: the one place where the header, L1 and L2 tables,
 * refcount table and blocks, the snapshot table and compressed clusters meet the disk. Reader,
 * writer and check all read through here, so one validation serves them all and every error names
 * the image and the structure ("web01.qcow2: read error in the L2 table at 0x50000: ...").
 *
 * <p>Writes are package-private: only the {@link MetadataGuard} (and the {@link WriteBatch} it
 * hands out) writes, after checking that the write lands on the structure it is meant for.
 *
 * <p>Guest data is not metadata: views read data clusters straight from {@link #file()}, which
 * FUSE may also splice from.
 */
public final class ImageFile implements Closeable {
    /** {@code posix_fadvise} advice: the kernel should read these bytes now, asynchronously. */
    private static final int POSIX_FADV_WILLNEED = 3;
    /** Queued write tasks (chunks of a {@link WriteBatch}) that may wait at once. */
    private static final int MAX_QUEUED = 4;
    /** First read of the snapshot table; it grows by doubling, up to the spec's 64 MiB. */
    private static final int SNAPSHOT_CHUNK = 64 * 1024;

    private final String name;
    private final PositionalFile file;
    /** The thread {@link #prefetch} started last (it waits for the one before), joined on close. */
    private Thread prefetcher;
    /** The thread of {@link #writeLater}, made on first use; the tasks queued; what stopped one. */
    private ExecutorService writer;
    private final ArrayDeque<Future<?>> inQueue = new ArrayDeque<>();
    private volatile RuntimeException writeFailure;

    private ImageFile(PositionalFile file) {
        this.name = file.name();
        this.file = file;
    }

    /** Opens an image read-only. */
    public static ImageFile openReadOnly(Path path) {
        try {
            return new ImageFile(PositionalFile.openReadOnly(path));
        } catch (IOException e) {
            throw ImageException.io(PositionalFile.nameOf(path), "cannot open", e);
        }
    }

    /** Opens an image read-write, with a native descriptor for QEMU's locks ({@link PositionalFile#openReadWrite}). */
    public static ImageFile openReadWrite(Path path) {
        try {
            return new ImageFile(PositionalFile.openReadWrite(path));
        } catch (NoSuchFileException e) {
            throw ImageException.notFound(PositionalFile.nameOf(path), "cannot open: No such file or directory");
        } catch (IOException e) {
            throw ImageException.io(PositionalFile.nameOf(path), "cannot open for writing", e);
        }
    }

    /** An image file over a file the caller opened (tests record the writes this way). */
    public static ImageFile over(PositionalFile file) {
        return new ImageFile(file);
    }

    /** The image's name, as messages show it. */
    public String name() {
        return name;
    }

    public Path path() {
        return file.path();
    }

    /** The file itself: guest data is read from here, locks are taken on its descriptor. */
    public PositionalFile file() {
        return file;
    }

    /** The file's length now. */
    public long length() {
        try {
            return file.size();
        } catch (IOException e) {
            throw ImageException.io(name, "cannot stat", e);
        }
    }

    /** The file's length, asking the file system only when {@code needed} lies past the length seen last. */
    public long lengthCovering(long needed) {
        try {
            return file.lengthCovering(needed);
        } catch (IOException e) {
            throw ImageException.io(name, "cannot stat", e);
        }
    }

    // ---- the header ----------------------------------------------------------------------

    /**
     * Reads and validates the header (the spec's rules, {@link QcowHeader#parse}): the first
     * cluster, or as much of it as the file holds.
     *
     * @throws ImageException CORRUPT or UNSUPPORTED naming what is wrong; IO
     */
    public QcowHeader readHeader() {
        long fileSize = length();
        try {
            int first = (int) Math.min(fileSize, 4096);
            ByteBuffer start = read(0, first, "header");
            int clusterSize = 1 << QcowHeader.peekClusterBits(start);
            ByteBuffer cluster = clusterSize <= first ? start : read(0, (int) Math.min(fileSize, clusterSize), "header");
            return QcowHeader.parse(cluster);
        } catch (FormatException e) {
            throw fromFormat(e);
        }
    }

    /** A format violation as this image's error: UNSUPPORTED or CORRUPT. */
    ImageException fromFormat(FormatException e) {
        return e.isUnsupported() ? ImageException.unsupported(name, e.getMessage())
                : ImageException.corrupt(name, e.getMessage());
    }

    /**
     * Refuses tables the header places (partly) beyond the end of a file of {@code fileSize}
     * bytes: the active L1 table, the refcount table, the snapshot table. The reader and the writer
     * refuse such images; the check reports them instead.
     */
    public void checkTablePlacement(QcowHeader h, long fileSize) {
        long l1Bytes = Integer.toUnsignedLong(h.l1Size()) * 8;
        if (l1Bytes > 0 && h.l1TableOffset() > fileSize - l1Bytes) {
            throw ImageException.corrupt(name, "L1 table at " + Hex.of(h.l1TableOffset()) + " (" + l1Bytes + " bytes) "
                    + pastEnd(h.l1TableOffset(), fileSize) + " (" + fileSize + " bytes)");
        }
        long refcountBytes = Integer.toUnsignedLong(h.refcountTableClusters()) * h.clusterSize();
        if (refcountBytes == 0) {
            throw ImageException.corrupt(name, "refcount table has no clusters");
        }
        if (h.refcountTableOffset() > fileSize - refcountBytes) {
            throw ImageException.corrupt(name, "refcount table at " + Hex.of(h.refcountTableOffset()) + " ("
                    + refcountBytes + " bytes) " + pastEnd(h.refcountTableOffset(), fileSize) + " (" + fileSize
                    + " bytes)");
        }
        if (h.nbSnapshots() != 0 && h.snapshotsOffset() >= fileSize) {
            throw ImageException.corrupt(name, "snapshot table at " + Hex.of(h.snapshotsOffset())
                    + " lies beyond the end of the file (" + fileSize + " bytes)");
        }
    }

    /** Says whether a structure that does not fit starts inside the file (cut off) or past its end. */
    static String pastEnd(long offset, long fileSize) {
        return offset < fileSize ? "runs past the end of the file" : "lies beyond the end of the file";
    }

    // ---- L1 and L2 tables ----------------------------------------------------------------

    /**
     * Reads the L1 table of {@code entries} entries at {@code offset} ({@code what} names it in
     * messages), refusing one beyond the 32 MiB limit, not cluster aligned, or not within the first
     * {@code fileSize} bytes of the file.
     */
    public long[] readL1(QcowHeader h, long offset, int entries, long fileSize, String what) {
        long count = Integer.toUnsignedLong(entries);
        if (count * 8 > QcowHeader.MAX_L1_BYTES) {
            throw ImageException.corrupt(name, what + " of " + count + " entries exceeds the 32 MiB limit");
        }
        if (count == 0) {
            return new long[0];
        }
        if (offset <= 0 || (offset & (h.clusterSize() - 1)) != 0) {
            throw ImageException.corrupt(name, what + " offset " + Hex.of(offset) + " is not aligned to a cluster boundary");
        }
        if (offset > fileSize - count * 8) {
            throw ImageException.corrupt(name, what + " at " + Hex.of(offset) + " (" + count * 8 + " bytes) "
                    + pastEnd(offset, fileSize) + " (" + fileSize + " bytes)");
        }
        return readLongs(offset, (int) count, what);
    }

    /**
     * Reads the L2 table at {@code offset} into {@code entries} (one cluster of big-endian words,
     * the bitmaps of extended entries interleaved), after checking that it lies within the first
     * {@code fileSize} bytes.
     */
    public long[] readL2(long offset, long fileSize, long[] entries) {
        long clusterSize = entries.length * 8L;
        if (offset > fileSize - clusterSize) {
            throw ImageException.corrupt(name, "L2 table at " + Hex.of(offset) + " " + pastEnd(offset, fileSize)
                    + " (" + fileSize + " bytes)");
        }
        ByteBuffer b = read(offset, (int) clusterSize, "L2 table at " + Hex.of(offset));
        b.order(ByteOrder.BIG_ENDIAN).asLongBuffer().get(entries);
        return entries;
    }

    // ---- refcounts ----------------------------------------------------------------------

    /**
     * Reads the entries of the refcount table the header names, refusing a table beyond the 8 MiB
     * limit; with {@code fileSize} not negative, also one not within the first {@code fileSize}
     * bytes (the check reads it as QEMU does, zeros past the end).
     */
    public long[] readRefcountTable(QcowHeader h, long fileSize) {
        long entries = RefcountTable.entries(Integer.toUnsignedLong(h.refcountTableClusters()), h.clusterBits());
        long bytes = entries * 8;
        if (bytes > QcowHeader.MAX_REFTABLE_BYTES) {
            throw ImageException.corrupt(name, "refcount table of " + entries + " entries exceeds the 8 MiB limit");
        }
        long offset = h.refcountTableOffset();
        if (fileSize >= 0 && offset > fileSize - bytes) {
            throw ImageException.corrupt(name, "refcount table at " + Hex.of(offset) + " (" + bytes
                    + " bytes) lies beyond the end of the file (" + fileSize + " bytes)");
        }
        return readLongs(offset, (int) entries, "refcount table");
    }

    /**
     * Refuses a refcount block (of table entry {@code tableIndex}) that is not cluster aligned, that
     * has bit 63 set, or, when {@code fileSize} is not negative, that does not lie within the file.
     */
    public void checkBlockPlacement(long tableIndex, long blockOffset, long clusterSize, long fileSize) {
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

    /** Reads the refcount block at {@code offset} into {@code block}; bytes past the end of the file read as zeros. */
    public byte[] readRefcountBlock(long offset, byte[] block) {
        readFully(offset, ByteBuffer.wrap(block), "refcount block at " + Hex.of(offset));
        return block;
    }

    // ---- the snapshot table -------------------------------------------------------------

    /**
     * Reads the snapshot table the header names. Its length is stored nowhere (it is the sum of its
     * entries), so it is read in growing chunks, never past the spec's 64 MiB nor the end of a file
     * of {@code fileSize} bytes; with {@code fileSize} negative, as QEMU's check reads it: bytes past
     * the end of the file read as zeros.
     */
    public List<SnapshotEntry> readSnapshotTable(QcowHeader header, long fileSize) {
        int count = header.nbSnapshots();
        List<SnapshotEntry> entries = new ArrayList<>(Math.min(count, 1024));
        if (count == 0) {
            return entries;
        }
        long offset = header.snapshotsOffset();
        long limit = fileSize < 0 ? SnapshotEntry.MAX_TABLE_BYTES : Math.min(SnapshotEntry.MAX_TABLE_BYTES, fileSize - offset);
        if (limit <= 0) {
            throw ImageException.corrupt(name, "snapshot table at " + Hex.of(offset) + " lies beyond the end of the file ("
                    + fileSize + " bytes)");
        }
        ByteBuffer table = read(offset, (int) Math.min(SNAPSHOT_CHUNK, limit), "snapshot table");
        int pos = 0;
        for (int i = 0; i < count; i++) {
            SnapshotEntry.Parsed parsed;
            try {
                while ((parsed = SnapshotEntry.parse(table, pos, i)) == null) {
                    if (table.limit() >= limit) {
                        throw ImageException.corrupt(name, "snapshot table at " + Hex.of(offset) + " (entry " + i
                                + " of " + count + ") runs past "
                                + (limit == SnapshotEntry.MAX_TABLE_BYTES ? "the 64 MiB limit" : "the end of the file"));
                    }
                    table = read(offset, (int) Math.min(limit, 2L * table.limit()), "snapshot table");
                }
            } catch (FormatException e) {
                throw fromFormat(e);
            }
            entries.add(parsed.entry());
            pos = parsed.nextOffset();
        }
        return entries;
    }

    // ---- reads, writes, sync ------------------------------------------------------------

    /** Reads {@code length} bytes of the structure {@code what} at {@code offset}; zeros past the end of the file. */
    public ByteBuffer read(long offset, int length, String what) {
        ByteBuffer b = ByteBuffer.allocate(length);
        readFully(offset, b, what);
        return b.flip();
    }

    /** Fills {@code dst} from {@code offset} on with the structure {@code what}; zeros past the end of the file. */
    public void readFully(long offset, ByteBuffer dst, String what) {
        try {
            file.readFully(offset, dst);
        } catch (IOException e) {
            throw ImageException.io(name, "read error in the " + what, e);
        }
    }

    /** Reads {@code count} big-endian 64-bit words of the structure {@code what} at {@code offset}. */
    public long[] readLongs(long offset, int count, String what) {
        long[] out = new long[count];
        read(offset, count * 8, what).order(ByteOrder.BIG_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    /**
     * Asks the kernel to start reading the {@code length}-byte structures at {@code offsets}, in
     * ascending order, on a thread of its own, so that the walk that reads them next finds them in
     * the page cache instead of waiting for one disk read after another. The caller does not wait;
     * the structures of an earlier call are asked for first. Only a hint: nothing happens without
     * a native descriptor.
     */
    public void prefetch(long[] offsets, long length) {
        LibC libc = file.descriptor() >= 0 ? LibC.get() : null;
        if (libc == null || offsets.length == 0) {
            return;
        }
        long[] sorted = offsets.clone();
        Arrays.sort(sorted);
        Thread earlier = prefetcher;
        Thread t = new Thread(() -> {
            Threads.joinUninterruptibly(earlier);
            int i = 0;
            while (i < sorted.length) {
                long start = sorted[i];
                long end = start + length;
                while (++i < sorted.length && sorted[i] <= end) {
                    end = Math.max(end, sorted[i] + length);
                }
                libc.posix_fadvise(file.descriptor(), start, end - start, POSIX_FADV_WILLNEED);
            }
        }, "qsnapfs-prefetch");
        t.setDaemon(true);
        t.start();
        prefetcher = t;
    }

    private void awaitPrefetch() {
        Thread t = prefetcher;
        prefetcher = null;
        Threads.joinUninterruptibly(t);
    }

    /**
     * Writes {@code data} of the structure {@code what} at {@code offset}, unchecked (only the guard
     * calls this), after every write queued before it ({@link #writeLater}): writes reach the file
     * in the order the operation made them.
     */
    void write(long offset, ByteBuffer data, String what) {
        drainWrites();
        writeNow(offset, data, what);
    }

    /** The write itself; only {@link #write} and the queued writes of a {@link WriteBatch} call it. */
    void writeNow(long offset, ByteBuffer data, String what) {
        try {
            file.writeFully(offset, data);
        } catch (IOException e) {
            throw ImageException.io(name, "write error in " + what + " at " + Hex.of(offset), e);
        }
    }

    /**
     * Queues {@code writes} (calls of {@link #writeNow}) for a thread of this file that does queued
     * writes one after another, so the caller can go on working out what comes next. Everything
     * that follows waits for the queue: a direct {@link #write}, {@link #sync}, {@link #close}; so
     * the file sees every write in the order it was made. After a failed queued write the rest of
     * the queue is dropped, and the failure is thrown by the next of those. At most {@value
     * #MAX_QUEUED} tasks wait: one more waits for the oldest first, which bounds the memory queued
     * writes hold.
     */
    void writeLater(Runnable writes) {
        while (inQueue.size() >= MAX_QUEUED) {
            await(inQueue.removeFirst());
        }
        if (writer == null) {
            writer = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "qsnapfs-write");
                t.setDaemon(true);
                return t;
            });
        }
        inQueue.addLast(writer.submit(() -> {
            if (writeFailure == null) {
                try {
                    writes.run();
                } catch (RuntimeException e) {
                    writeFailure = e;
                }
            }
        }));
    }

    /** Waits until every queued write is done, and throws what stopped one. */
    void drainWrites() {
        while (!inQueue.isEmpty()) {
            await(inQueue.removeFirst());
        }
        RuntimeException e = writeFailure;
        if (e != null) {
            writeFailure = null;
            throw e;
        }
    }

    /** Makes everything written so far durable (fdatasync). */
    void sync() {
        drainWrites();
        try {
            file.sync();
        } catch (IOException e) {
            throw ImageException.io(name, "sync failed", e);
        }
    }

    /** Waits for a queued task, interrupted or not (the task catches what it throws). */
    private static void await(Future<?> task) {
        boolean interrupted = false;
        while (true) {
            try {
                task.get();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        awaitPrefetch();
        if (writer != null) {
            try {
                drainWrites(); // an operation that got here without a sync failed already
            } catch (RuntimeException ignored) {
                // that failure is the one reported
            }
            writer.shutdown();
        }
        try {
            file.close();
        } catch (IOException ignored) {
            // nothing was written through a close; a read-only or synced file has nothing to lose
        }
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
