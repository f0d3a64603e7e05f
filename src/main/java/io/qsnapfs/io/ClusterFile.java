package io.qsnapfs.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A file read and written only with positional I/O: there is no shared file position, so any
 * number of threads may use one instance at once. Reads past the end of the file yield zeros,
 * the way QEMU's file driver pads short reads; callers that must not read past the end check
 * {@link #size()} themselves.
 */
public final class ClusterFile implements Closeable {
    private final Path path;
    private final String displayName;
    private final FileChannel channel;

    private ClusterFile(Path path, FileChannel channel) {
        this.path = path;
        this.displayName = path.getFileName() == null ? path.toString() : path.getFileName().toString();
        this.channel = channel;
    }

    public static ClusterFile openReadOnly(Path path) throws IOException {
        // Linux opens a directory read-only without complaint; only reading it fails, much later.
        if (Files.isDirectory(path)) {
            throw new FileSystemException(path.toString(), null, "Is a directory");
        }
        return new ClusterFile(path, FileChannel.open(path, StandardOpenOption.READ));
    }

    public static ClusterFile openReadWrite(Path path) throws IOException {
        return new ClusterFile(path, FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE));
    }

    public Path path() {
        return path;
    }

    /** The file's name, as messages show it. */
    public String name() {
        return displayName;
    }

    public FileChannel channel() {
        return channel;
    }

    public long size() throws IOException {
        return channel.size();
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
        channel.close();
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
