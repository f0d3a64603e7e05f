package io.qsnapfs.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A FileChannel that passes everything to a real channel and logs every change to the file: each
 * write (position and bytes), each truncate and each force. From the log and the file as it was
 * before, {@link #crashImage} builds the file a crash at any point would have left behind, so a
 * test can replay every crash point of an operation.
 *
 * <p>Two crash models: {@link Crash#FLUSH_BARRIER} keeps only the changes that a force made durable
 * before the crash (everything after the last force is lost, as a power cut may lose it);
 * {@link Crash#PREFIX} keeps every change before the crash, as if each write were durable at once.
 */
public final class RecordingFileChannel extends FileChannel {
    /** One logged change. */
    public sealed interface Event permits Write, Truncate, Force {
    }

    /** {@code data} written at {@code position}. */
    public record Write(long position, byte[] data) implements Event {
        @Override
        public String toString() {
            return "write " + data.length + " bytes at " + position + " (0x" + Long.toHexString(position) + ")";
        }
    }

    /** The file cut (or extended) to {@code size}. */
    public record Truncate(long size) implements Event {
    }

    /** A force (fsync/fdatasync): everything logged before it is durable. */
    public record Force(boolean metaData) implements Event {
        @Override
        public String toString() {
            return "force";
        }
    }

    /** Which of the logged changes survive a crash. */
    public enum Crash {
        /** Only changes followed by a force before the crash point. */
        FLUSH_BARRIER,
        /** Every change before the crash point. */
        PREFIX
    }

    private final FileChannel delegate;
    private final List<Event> log = Collections.synchronizedList(new ArrayList<>());

    public RecordingFileChannel(FileChannel delegate) {
        this.delegate = delegate;
    }

    /** Opens {@code path} read-write under a recorder. */
    public static RecordingFileChannel open(Path path) throws IOException {
        return new RecordingFileChannel(FileChannel.open(path, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE));
    }

    /** A copy of the log so far. */
    public List<Event> log() {
        synchronized (log) {
            return List.copyOf(log);
        }
    }

    /** The number of changes (writes and truncates) in the log: the crash points are 0..changes(). */
    public static int changes(List<Event> log) {
        return (int) log.stream().filter(e -> !(e instanceof Force)).count();
    }

    /**
     * How many changes survive a crash just before change number {@code k} (0-based, counting
     * writes and truncates only; {@code k == changes(log)} is a crash after the last change).
     */
    public static int survivors(List<Event> log, int k, Crash model) {
        if (model == Crash.PREFIX) {
            return k;
        }
        int seen = 0;
        int durable = 0;
        for (Event e : log) {
            if (e instanceof Force) {
                durable = seen;
            } else {
                if (seen == k) {
                    break;
                }
                seen++;
            }
        }
        return durable;
    }

    /** The file after the first {@code n} changes of {@code log} were applied to {@code original}. */
    public static byte[] apply(byte[] original, List<Event> log, int n) {
        byte[] file = original.clone();
        int length = file.length;
        int done = 0;
        for (Event e : log) {
            if (done == n) {
                break;
            }
            if (e instanceof Write w) {
                long end = w.position() + w.data().length;
                if (end > Integer.MAX_VALUE - 8) {
                    throw new IllegalStateException("write past 2 GiB in a test image: " + w);
                }
                if (end > file.length) {
                    file = Arrays.copyOf(file, Math.max((int) end, file.length * 2));
                }
                System.arraycopy(w.data(), 0, file, (int) w.position(), w.data().length);
                length = Math.max(length, (int) end);
                done++;
            } else if (e instanceof Truncate t) {
                if (t.size() > file.length) {
                    file = Arrays.copyOf(file, (int) t.size());
                } else {
                    Arrays.fill(file, (int) t.size(), file.length, (byte) 0);
                }
                length = (int) t.size();
                done++;
            }
        }
        return Arrays.copyOf(file, length);
    }

    /** Writes the crash image for a crash just before change {@code k} to {@code out}. */
    public static Path crashImage(byte[] original, List<Event> log, int k, Crash model, Path out) {
        try {
            Files.write(out, apply(original, log, survivors(log, k, model)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    // ---- FileChannel ----------------------------------------------------------------------

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return delegate.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        return delegate.read(dsts, offset, length);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        return delegate.read(dst, position);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        ByteBuffer copy = src.duplicate();
        int n = delegate.write(src, position);
        record(position, copy, n);
        return n;
    }

    @Override
    public synchronized int write(ByteBuffer src) throws IOException {
        long position = delegate.position();
        ByteBuffer copy = src.duplicate();
        int n = delegate.write(src);
        record(position, copy, n);
        return n;
    }

    @Override
    public synchronized long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            while (srcs[i].hasRemaining()) {
                total += write(srcs[i]);
            }
        }
        return total;
    }

    private void record(long position, ByteBuffer copy, int n) {
        if (n > 0) {
            byte[] data = new byte[n];
            copy.get(data);
            log.add(new Write(position, data));
        }
    }

    @Override
    public long position() throws IOException {
        return delegate.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
        delegate.position(newPosition);
        return this;
    }

    @Override
    public long size() throws IOException {
        return delegate.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
        long before = delegate.size();
        delegate.truncate(size);
        if (size < before) {
            log.add(new Truncate(size));
        }
        return this;
    }

    @Override
    public void force(boolean metaData) throws IOException {
        delegate.force(metaData);
        log.add(new Force(metaData));
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        return delegate.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(count, 1 << 20));
        long done = 0;
        while (done < count) {
            b.clear().limit((int) Math.min(b.capacity(), count - done));
            int n = src.read(b);
            if (n <= 0) {
                break;
            }
            b.flip();
            while (b.hasRemaining()) {
                done += write(b, position + done);
            }
        }
        return done;
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
        if (mode != MapMode.READ_ONLY) {
            throw new UnsupportedOperationException("a writable mapping would bypass the recording");
        }
        return delegate.map(mode, position, size);
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        return delegate.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        return delegate.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
        delegate.close();
    }
}
