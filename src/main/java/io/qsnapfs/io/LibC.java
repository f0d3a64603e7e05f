package io.qsnapfs.io;

import jnr.ffi.LibraryLoader;

/**
 * The few libc calls Java does not offer, bound through jnr-ffi (present anyway for FUSE):
 * descriptors that FUSE can splice from. Null when libc cannot be bound; callers then do without.
 */
public interface LibC {
    int O_RDONLY = 0;
    int O_CLOEXEC = 0x80000;

    int open(String path, int flags);

    int close(int fd);

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
