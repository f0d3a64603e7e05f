package io.qsnapfs.io;

import java.io.Closeable;
import java.nio.file.Path;
import jnr.ffi.LibraryLoader;

/**
 * Asks the kernel to start reading a file range into the page cache ahead of need, with
 * {@code posix_fadvise(POSIX_FADV_WILLNEED)}: asynchronous, and no data passes through the JVM.
 * FileChannel does not expose its descriptor, so the advice goes through a second descriptor of
 * the same file, opened on first use; the page cache is per file, so it serves both.
 * Advice is only a hint: any failure leaves reading correct, just not prefetched.
 */
public final class PageCacheAdvice implements Closeable {
    /** The few libc calls needed, bound through jnr-ffi (already present for FUSE). */
    public interface LibC {
        int open(String path, int flags);

        int close(int fd);

        int posix_fadvise(int fd, long offset, long length, int advice);
    }

    private static final int O_RDONLY_CLOEXEC = 0x80000;
    private static final int POSIX_FADV_WILLNEED = 3;
    private static final LibC LIBC = load();

    private final Path path;
    private volatile int fd = -2;

    PageCacheAdvice(Path path) {
        this.path = path;
    }

    private static LibC load() {
        try {
            return LibraryLoader.create(LibC.class).load("c");
        } catch (Throwable e) {
            return null;
        }
    }

    /** Starts reading {@code [offset, offset + length)} of the file in the background. */
    public void willNeed(long offset, long length) {
        int f = descriptor();
        if (f >= 0 && length > 0) {
            LIBC.posix_fadvise(f, offset, length, POSIX_FADV_WILLNEED);
        }
    }

    private int descriptor() {
        int f = fd;
        if (f == -2) {
            synchronized (this) {
                f = fd;
                if (f == -2) {
                    f = LIBC == null ? -1 : LIBC.open(path.toString(), O_RDONLY_CLOEXEC);
                    fd = f < 0 ? -1 : f;
                }
            }
        }
        return f;
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            LIBC.close(fd);
        }
        fd = -1;
    }
}
