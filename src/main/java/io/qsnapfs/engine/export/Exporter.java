package io.qsnapfs.engine.export;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.Diff;
import io.qsnapfs.engine.read.DiffExtent;
import io.qsnapfs.engine.read.ExtentSink;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Copies a whole disk ({@link BlockSource}) into a raw file, the way {@code qemu-img convert -O raw}
 * does, through the same translation ({@link BlockSource#map}) that every other read uses.
 *
 * <ul>
 * <li>Data extents are copied file to file with {@link FileChannel#transferTo}, so the bytes stay in
 * the kernel (sendfile); neighbouring host clusters arrive already merged into one extent.</li>
 * <li>Zero extents (unallocated clusters, zero clusters, the area past a backing file) are not
 * written at all when the target is a regular file: its length is set first, so they stay holes
 * and the output is as sparse as the snapshot.</li>
 * <li>Computed extents (decompressed clusters) are written from memory.</li>
 * </ul>
 *
 * The guest range is translated in chunks of {@link #chunkSize()} bytes so that a {@link Progress}
 * can be told how far the copy has got; the chunk size bounds nothing else, since extents are
 * streamed straight to the target.
 */
public final class Exporter {
    /** Guest bytes translated per {@code map} call (and per progress report). */
    public static final long DEFAULT_CHUNK = 64L << 20;
    /**
     * Chunks copied at once into a regular file (each by its own thread, with its own descriptor).
     * One: timed until the output was on disk (2 GiB, ext4, six alternating runs), one stream took
     * a median 3.6 s and two 4.2 s, the disk seeking between the two regions.
     */
    public static final int DEFAULT_STREAMS = 1;

    private static final int ZERO_BUFFER = 1 << 20;

    /** Receives the number of guest bytes done after each chunk; may be called from several threads. */
    @FunctionalInterface
    public interface Progress {
        /** {@code done} of {@code total} guest bytes are in the target. */
        void copied(long done, long total);

        /** A progress that ignores every report. */
        Progress NONE = (done, total) -> {
        };
    }

    private final BlockSource source;
    private final long chunkSize;
    private final int streams;

    /** An exporter of {@code source} with the default chunk size and number of streams. */
    public Exporter(BlockSource source) {
        this(source, DEFAULT_CHUNK, DEFAULT_STREAMS);
    }

    /**
     * An exporter of {@code source} that translates {@code chunkSize} guest bytes at a time and,
     * into a regular file, copies up to {@code streams} chunks at once (more streams can help on
     * storage that likes parallel requests); a pipe or device is always written in order.
     */
    public Exporter(BlockSource source, long chunkSize, int streams) {
        if (chunkSize <= 0 || streams <= 0) {
            throw new IllegalArgumentException("chunk size and streams must be positive: " + chunkSize + ", "
                    + streams);
        }
        this.source = source;
        this.chunkSize = chunkSize;
        this.streams = streams;
    }

    public long chunkSize() {
        return chunkSize;
    }

    /**
     * Writes the disk to {@code out}. A regular file (or a new one) is truncated and set to the
     * disk's size before anything is copied, so zero ranges stay holes. Anything else that exists
     * already (a block device, {@code /dev/null}) is written from its start, zeros included, and not
     * truncated. Synced before it returns.
     */
    public void toFile(Path out, Progress progress) throws IOException {
        if (Files.exists(out) && !Files.isRegularFile(out)) {
            try (FileChannel channel = FileChannel.open(out, StandardOpenOption.WRITE)) {
                copy(channel, false, progress);
                channel.force(false);
            }
            return;
        }
        // Opened once through NIO first: its errors name the file and say why (no such directory...).
        FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.WRITE).close();
        // Truncated and sized through a descriptor of its own, closed before anything is written:
        // ext4 starts write-back of a file that was truncated to zero when that descriptor closes
        // (auto_da_alloc), which would make the export wait for gigabytes to reach the disk.
        try (RandomAccessFile file = new RandomAccessFile(out.toFile(), "rw")) {
            file.setLength(0);
            file.setLength(source.size());
        }
        if (streams == 1 || source.size() <= chunkSize) {
            try (FileChannel channel = FileChannel.open(out, StandardOpenOption.WRITE)) {
                copy(channel, true, progress);
            }
        } else {
            copyInParallel(out, progress);
        }
        // On disk before the command says it is done, as qemu-img convert flushes its target: a
        // backup script may delete the snapshot next.
        try (FileChannel channel = FileChannel.open(out, StandardOpenOption.WRITE)) {
            channel.force(false);
        }
    }

    /**
     * Writes the disk to a channel in order, from the channel's current position, zeros included
     * (a pipe or standard output cannot have holes).
     */
    public void toChannel(WritableByteChannel out, Progress progress) throws IOException {
        copy(out, false, progress);
    }

    private void copy(WritableByteChannel out, boolean holes, Progress progress) throws IOException {
        long size = source.size();
        Target target = new Target(out, holes);
        for (long pos = 0; pos < size; ) {
            long n = Math.min(chunkSize, size - pos);
            copyChunk(target, pos, n);
            pos += n;
            progress.copied(pos, size);
        }
    }

    private void copyChunk(Target target, long pos, long n) throws IOException {
        target.position = pos;
        source.map(pos, n, target);
        if (target.position != pos + n) {
            throw new IllegalStateException(source.describe() + ": translation of " + pos + "+" + n + " ended at "
                    + target.position);
        }
    }

    /**
     * Copies into a regular file of the right length with several threads, each taking the next
     * chunk and writing through a descriptor of its own (sendfile writes at the descriptor's
     * offset, so descriptors cannot be shared). The first failure stops the others and is thrown.
     */
    private void copyInParallel(Path out, Progress progress) throws IOException {
        long size = source.size();
        AtomicLong next = new AtomicLong();
        AtomicLong done = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int count = (int) Math.min(streams, (size + chunkSize - 1) / chunkSize);
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Thread t = new Thread(() -> {
                try (FileChannel channel = FileChannel.open(out, StandardOpenOption.WRITE)) {
                    Target target = new Target(channel, true);
                    for (long pos; failure.get() == null && (pos = next.getAndAdd(chunkSize)) < size; ) {
                        long n = Math.min(chunkSize, size - pos);
                        copyChunk(target, pos, n);
                        progress.copied(done.addAndGet(n), size);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "export-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
        try {
            for (Thread t : workers) {
                t.join();
            }
        } catch (InterruptedException e) {
            failure.compareAndSet(null, e);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("export of " + source.describe() + " interrupted");
        }
        Throwable e = failure.get();
        if (e instanceof IOException io) {
            throw io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
    }

    /**
     * The changed ranges of a disk against an older one, in guest order, handed to a sink as they
     * are found: {@link Diff#changes} of the two, say, so that they are never all held at once.
     */
    @FunctionalInterface
    public interface Changes {
        void forEach(Diff.Sink sink) throws IOException;

        /** Changes already at hand. */
        static Changes of(Iterable<DiffExtent> extents) {
            return sink -> {
                for (DiffExtent e : extents) {
                    sink.changed(e.start(), e.length(), e.zero());
                }
            };
        }
    }

    /**
     * Makes {@code out}, a raw copy of an older disk, a copy of this disk by writing only the ranges
     * {@code changes} names (it is asked twice: once to count for {@code progress}, once to copy).
     * Its length becomes the disk's size first (cut or extended with a hole); then each changed
     * range gets this disk's bytes, its zero parts punched as holes where the file system can.
     * Every range is written whole and nothing else is touched, so when both disks have the same
     * size, an interrupted update can be run again over the same file. Synced before it returns.
     */
    public void update(Path out, Changes changes, Progress progress) throws IOException {
        long size = source.size();
        long[] total = new long[1];
        changes.forEach((start, length, zero) -> total[0] += Math.max(0, Math.min(length, size - start)));
        try (RandomAccessFile file = new RandomAccessFile(out.toFile(), "rw")) {
            if (file.length() != size) {
                file.setLength(size);
            }
        }
        long[] done = new long[1];
        try (PositionalFile file = PositionalFile.openReadWrite(out)) {
            Target target = new Target(file);
            changes.forEach((start, length, zero) -> {
                if (start >= size) {
                    return; // past this disk's end: cut off above
                }
                long n = Math.min(length, size - start);
                target.position = start;
                if (zero) {
                    target.zero(n);
                } else {
                    copyChunk(target, start, n);
                }
                done[0] += n;
                progress.copied(done[0], total[0]);
            });
            file.sync(); // on disk before the command says it is done
        }
        progress.copied(total[0], total[0]);
    }

    /**
     * A sink that writes the extents it is handed into {@code file} from {@code position} on, the
     * way export writes a regular file: data file to file, computed bytes from memory, zeros not at
     * all, so they must read as zeros in {@code file} already (a hole, or past its end).
     */
    static ExtentSink fileWriter(FileChannel file, long position) {
        Target target = new Target(file, true);
        target.position = position;
        return target;
    }

    /** What a {@link Target} does with guest ranges that read as zeros. */
    private enum Zeros {
        /** Nothing: they are holes already (a regular file just set to its length). */
        SKIP,
        /** Writes them, in order (a pipe or device). */
        WRITE,
        /** Punches holes there where the file system can, else writes zeros (a file that holds other bytes). */
        PUNCH
    }

    /**
     * The sink that writes extents at their guest offsets. Into a regular file every write is
     * positional; a pipe or device is written in order, zeros included.
     */
    private static final class Target implements ExtentSink {
        private final WritableByteChannel out;
        private final FileChannel file;
        private final Zeros zeros;
        private final PositionalFile punchable;
        private long position;
        private ByteBuffer zeroBuffer;

        /** A target in order ({@code holes} false), or a regular file whose zero ranges are holes already. */
        Target(WritableByteChannel out, boolean holes) {
            this(out, holes ? Zeros.SKIP : Zeros.WRITE, null);
        }

        /** A regular file that holds other bytes: zero ranges are punched into it. */
        Target(PositionalFile file) {
            this(file.channel(), Zeros.PUNCH, file);
        }

        private Target(WritableByteChannel out, Zeros zeros, PositionalFile punchable) {
            this.out = out;
            this.file = zeros == Zeros.WRITE ? null : (FileChannel) out;
            this.zeros = zeros;
            this.punchable = punchable;
        }

        @Override
        public void zero(long length) throws IOException {
            if (zeros == Zeros.WRITE || (zeros == Zeros.PUNCH && !punchable.punchHole(position, length))) {
                ByteBuffer z = zeroBuffer();
                long left = length;
                long at = position;
                while (left > 0) {
                    z.clear().limit((int) Math.min(left, z.capacity()));
                    while (z.hasRemaining()) {
                        if (file != null) {
                            at += file.write(z, at);
                        } else {
                            out.write(z);
                        }
                    }
                    left -= z.limit();
                }
            }
            position += length;
        }

        private ByteBuffer zeroBuffer() {
            if (zeroBuffer == null) {
                zeroBuffer = ByteBuffer.allocateDirect(ZERO_BUFFER);
            }
            return zeroBuffer;
        }

        @Override
        public void data(PositionalFile from, long hostOffset, long length) throws IOException {
            FileChannel src = from.channel();
            long done = 0;
            while (done < length) {
                if (file != null) {
                    file.position(position + done);
                }
                long n = src.transferTo(hostOffset + done, length - done, out);
                if (n <= 0) {
                    break; // past the end of the source file: the rest reads as zeros
                }
                done += n;
            }
            position += done;
            if (done < length) {
                zero(length - done);
            }
        }

        @Override
        public void bytes(ByteBuffer data) throws IOException {
            int length = data.remaining();
            if (file != null) {
                long at = position;
                while (data.hasRemaining()) {
                    at += file.write(data, at);
                }
            } else {
                while (data.hasRemaining()) {
                    out.write(data);
                }
            }
            position += length;
        }
    }
}
