package io.qsnapfs.io;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;

/**
 * The few libc calls Java does not offer, bound through jnr-ffi (present anyway for FUSE):
 * descriptors that FUSE can splice from; read-ahead hints ({@code posix_fadvise}); holes punched
 * into files ({@code fallocate}); standard error
 * redirected around a libfuse call that reports its failures only there ({@code dup},
 * {@code dup2}); and the open-file-description
 * byte-range locks QEMU uses to keep two programs from writing one image ({@link ImageLock}).
 * Null when libc cannot be bound; callers then do without, or fail saying so when they cannot
 * (locking).
 *
 * <p>The constants are Linux's, the same on every architecture it runs on. The errno of a call
 * marked {@code @SaveError} is {@code jnr.ffi.Runtime.getRuntime(libc).getLastError()}; a static
 * helper for it cannot live here, as jnr-ffi would try to bind it as a C function.
 */
public interface LibC {
    int O_RDONLY = 0;
    int O_RDWR = 2;
    int O_CLOEXEC = 0x80000;

    /** {@code fcntl} commands of open-file-description locks (Linux 3.15 and later). */
    int F_OFD_GETLK = 36;
    int F_OFD_SETLK = 37;

    /** {@code struct flock} lock types. */
    short F_RDLCK = 0;
    short F_WRLCK = 1;
    short F_UNLCK = 2;

    /** {@code l_whence}: offsets count from the start of the file. */
    short SEEK_SET = 0;

    /** errno values: EAGAIN and EACCES are what a lock request fails with when another description holds the byte. */
    int EPERM = 1;
    int ENOENT = 2;
    int EAGAIN = 11;
    int EACCES = 13;
    int EOPNOTSUPP = 95;

    /** {@code fallocate} modes: deallocate the range (it reads zeros), leaving the file's size as it is. */
    int FALLOC_FL_KEEP_SIZE = 1;
    int FALLOC_FL_PUNCH_HOLE = 2;

    @SaveError
    int open(String path, int flags);

    int close(int fd);

    @SaveError
    int dup(int fd);

    @SaveError
    int dup2(int fd, int to);

    /** {@code fcntl(fd, cmd, struct flock *)}; see {@link Flock} for the structure. */
    @SaveError
    int fcntl(int fd, int cmd, Pointer flock);

    String strerror(int errnum);

    /** {@code fallocate(fd, mode, offset, len)}. */
    @SaveError
    int fallocate(int fd, int mode, long offset, long len);

    /** {@code posix_fadvise(fd, offset, len, advice)}; returns the error number itself (0 on success). */
    int posix_fadvise(int fd, long offset, long len, int advice);

    /**
     * Binds libc and makes one call of each kind a writer makes first ({@code open}, {@code close}),
     * so that their first real use does not pay for setting them up.
     */
    static void warmUp() {
        LibC libc = get();
        if (libc != null) {
            int fd = libc.open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                libc.close(fd);
            }
        }
    }

    /** The bound library, or null. */
    static LibC get() {
        return Holder.LIBC;
    }

    /** Loads libc once, on first use. */
    final class Holder {
        static final LibC LIBC = load();

        private Holder() {
        }

        private static LibC load() {
            try {
                return LibraryLoader.create(LibC.class).load("c");
            } catch (Throwable e) {
                return null;
            }
        }
    }
}
