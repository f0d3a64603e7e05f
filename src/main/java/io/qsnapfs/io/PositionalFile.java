package io.qsnapfs.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A file read and written only with positional I/O: there is no shared file position, so any
 * number of threads may use one instance at once. Reads past the end of the file yield zeros,
 * the way QEMU's file driver pads short reads; callers that must not read past the end check
 * {@link #size()} themselves.
 */
public final class PositionalFile implements Closeable {
    private final Path path;
    private final String displayName;
    private final FileChannel channel;
    /** A descriptor of the same open file for splicing, or -1. */
    private final int descriptor;
    /**
     * Whether read-only opens also get a native descriptor for splicing. Only the mount needs one,
     * and binding libc through jnr-ffi costs the command line a noticeable part of its start-up.
     */
    private static volatile boolean spliceDescriptors;
    /** The length the file had when last asked; see {@link #lengthCovering}. */
    private volatile long knownLength = -1;

    private PositionalFile(Path path, FileChannel channel, int descriptor) {
        this.path = path;
        this.displayName = nameOf(path);
        this.channel = channel;
        this.descriptor = descriptor;
    }

    private PositionalFile(Path path, FileChannel channel) {
        this(path, channel, -1);
    }

    /** From now on, read-only opens also get a native descriptor that FUSE can splice from. */
    public static void enableSpliceDescriptors() {
        spliceDescriptors = true;
    }

    /**
     * Opens for reading. After {@link #enableSpliceDescriptors()} the file also gets a native
     * descriptor: it is opened first and the channel through {@code /proc/self/fd}, so both are one
     * open file even if the path is renamed or replaced meanwhile. Without libc the file is opened
     * plainly.
     */
    public static PositionalFile openReadOnly(Path path) throws IOException {
        LibC libc = spliceDescriptors ? LibC.get() : null;
        if (libc != null && !Files.isDirectory(path)) {
            int fd = libc.open(path.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
            if (fd >= 0) {
                return withDescriptor(libc, path, fd, StandardOpenOption.READ);
            }
        }
        return openPlain(path);
    }

    /** A PositionalFile whose channel is a second open, through {@code /proc/self/fd}, of descriptor {@code fd}. */
    private static PositionalFile withDescriptor(LibC libc, Path path, int fd, StandardOpenOption... options)
            throws IOException {
        try {
            return new PositionalFile(path, FileChannel.open(Path.of("/proc/self/fd/" + fd), options), fd);
        } catch (IOException | RuntimeException e) {
            libc.close(fd);
            throw e;
        }
    }

    private static PositionalFile openPlain(Path path) throws IOException {
        // Linux opens a directory read-only without complaint; only reading it fails, much later.
        if (Files.isDirectory(path)) {
            throw new FileSystemException(path.toString(), null, "Is a directory");
        }
        return new PositionalFile(path, FileChannel.open(path, StandardOpenOption.READ));
    }

    /**
     * Opens for reading and writing, always with a native descriptor ({@link #descriptor()}) on which
     * {@link ImageLock} takes QEMU's locks: the file is opened through libc first and the channel
     * through {@code /proc/self/fd}, as {@link #openReadOnly} does for splicing. Only when libc cannot
     * be bound is the file opened plainly, with no descriptor; taking the locks then fails saying so.
     */
    public static PositionalFile openReadWrite(Path path) throws IOException {
        LibC libc = LibC.get();
        if (libc == null) {
            return new PositionalFile(path, FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE));
        }
        int fd = libc.open(path.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) {
            throw openFailure(path, jnr.ffi.Runtime.getRuntime(libc).getLastError(), libc);
        }
        return withDescriptor(libc, path, fd, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    /**
     * Deallocates {@code length} bytes at {@code position} so that they read as zeros, keeping the
     * file's size ({@code fallocate} punch-hole). Returns false, changing nothing, when the file has
     * no native descriptor or its file system cannot punch holes; the caller then writes zeros.
     */
    public boolean punchHole(long position, long length) throws IOException {
        LibC libc = descriptor >= 0 ? LibC.get() : null;
        if (libc == null) {
            return false;
        }
        if (libc.fallocate(descriptor, LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, position, length) == 0) {
            return true;
        }
        int errno = jnr.ffi.Runtime.getRuntime(libc).getLastError();
        if (errno == LibC.EOPNOTSUPP) {
            return false;
        }
        throw new FileSystemException(path.toString(), null, "cannot punch a hole of " + length + " bytes at "
                + position + ": " + libc.strerror(errno));
    }

    /** The exception java.nio would have thrown for an open that failed with {@code errno}. */
    private static FileSystemException openFailure(Path path, int errno, LibC libc) {
        return switch (errno) {
            case LibC.ENOENT -> new NoSuchFileException(path.toString());
            case LibC.EACCES, LibC.EPERM -> new AccessDeniedException(path.toString());
            default -> new FileSystemException(path.toString(), null, libc.strerror(errno));
        };
    }

    /**
     * A PositionalFile over a channel the caller opened, with no native descriptor: for a file that
     * export creates, and for tests that put a recording channel under the engine.
     */
    public static PositionalFile wrap(Path path, FileChannel channel) {
        return new PositionalFile(path, channel);
    }

    /** How messages name a file: its last path component (the whole path when there is none). */
    public static String nameOf(Path path) {
        return path.getFileName() == null ? path.toString() : path.getFileName().toString();
    }

    public Path path() {
        return path;
    }

    /** The file's name, as messages show it. */
    public String name() {
        return displayName;
    }

    /** A native descriptor of this file (for splicing and locking), or -1 when there is none. */
    public int descriptor() {
        return descriptor;
    }

    public FileChannel channel() {
        return channel;
    }

    public long size() throws IOException {
        long length = channel.size();
        knownLength = length;
        return length;
    }

    /**
     * The file's length, asking the file system only when {@code needed} lies past the length seen
     * last: an image grows while it is open (QEMU appending clusters) and never shrinks under a
     * valid table, so the checks on every read cost no system call.
     */
    public long lengthCovering(long needed) throws IOException {
        long length = knownLength;
        return needed > length ? size() : length;
    }

    /**
     * Fills {@code dst} from {@code position} on. Bytes past the end of the file read as zeros.
     */
    public void readFully(long position, ByteBuffer dst) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                Zeros.fill(dst, dst.remaining());
                return;
            }
            pos += n;
        }
    }

    /** Reads {@code length} bytes at {@code position} into a new heap buffer (zeros past the end). */
    public ByteBuffer read(long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        readFully(position, b);
        b.flip();
        return b;
    }

    /** Reads {@code count} big-endian 64-bit entries (a table) at {@code position}; zeros past the end. */
    public long[] readLongs(long position, int count) throws IOException {
        long[] out = new long[count];
        read(position, count * 8).order(java.nio.ByteOrder.BIG_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    /** Writes all of {@code src} at {@code position}. */
    public void writeFully(long position, ByteBuffer src) throws IOException {
        long pos = position;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    /** Forces written data to stable storage (fdatasync). */
    public void sync() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (descriptor >= 0) {
                LibC.get().close(descriptor);
            }
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
