package io.qsnapfs.io;

import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The byte-range locks QEMU's file driver ({@code block/file-posix.c}) keeps on an image file, taken
 * the way a qcow2 writer ({@code qemu-img snapshot -c/-d/-a}) takes them, so that qsnapfs and QEMU
 * keep each other from writing an image the other one has open.
 *
 * <h2>The byte layout</h2>
 *
 * QEMU announces its block-layer permissions ({@link BlockPermission}, bit 0 consistent read, 1
 * write, 2 write unchanged, 3 resize) with shared (read) locks on single bytes of the image file.
 * The locks are advisory: they stop no I/O, only programs that look for them.
 * <ul>
 * <li>byte 100 + bit is locked while the permission is <em>held</em>;
 * <li>byte 200 + bit is locked while the permission is <em>not shared</em> with other users.
 * </ul>
 * Byte 0 and the bytes below 100 are left to libvirt. QEMU 7.2 has the four permissions above; the
 * fifth, graph-mod (bit 4), left in QEMU 6.2 and its bytes are neither taken nor tested.
 *
 * <p>Two users conflict when one holds a permission the other does not share. Nobody ever takes
 * a write (exclusive) lock; a conflict is <em>tested</em> by asking the kernel ({@code F_OFD_GETLK})
 * whether a write lock on the byte could be had: it could not if any other open of the file holds a
 * read lock there. The test ignores the locks of the asking open file description itself.
 *
 * <h2>What a writer takes</h2>
 *
 * Measured with strace on QEMU 7.2's {@code qemu-img snapshot -c}, and the same set a read-write
 * {@code qemu-io} shows in {@code /proc/locks}: it holds consistent read, write and resize (bytes
 * 100, 101, 103; not write unchanged, which the stronger write makes unnecessary), and does not share
 * write and resize (bytes 201, 203). This class takes exactly those, so to QEMU a qsnapfs writer looks
 * like one of its own, and QEMU reports it with its own message, e.g. {@code Failed to get shared
 * "write" lock}.
 *
 * <h2>Order: lock first, then test</h2>
 *
 * Like QEMU ({@code raw_handle_perm_lock}) the locks are taken first and only then is every relevant
 * byte tested: 200 + bit of each permission we hold (does somebody refuse to share it?), then
 * 100 + bit of each permission we refuse to share (does somebody hold it?). Testing first and locking
 * afterwards would leave a window in which two writers starting together both find the file free and
 * both go on; with locks first, each of them sees the other's locks and at least one of them backs
 * out. On a conflict every lock taken is released again and a {@link LockConflictException} says
 * which permission is in the way, in QEMU's words.
 *
 * <h2>Open file description locks</h2>
 *
 * The locks belong to the open file description of the descriptor given (Linux {@code F_OFD_*}
 * locks, as QEMU uses): unlike classic POSIX locks they are not dropped when the process closes some
 * other descriptor of the same file, and they go away by themselves when the description is closed.
 * They need a real descriptor, so {@link PositionalFile#openReadWrite} always opens through libc.
 *
 * <p>An instance is used by one thread at a time (it reuses one native {@code struct flock}).
 */
public final class ImageLock implements Closeable {
    /** Byte 100 + bit: the permission is held (QEMU's {@code RAW_LOCK_PERM_BASE}). */
    static final long PERM_BASE = 100;
    /** Byte 200 + bit: the permission is not shared (QEMU's {@code RAW_LOCK_SHARED_BASE}). */
    static final long SHARED_BASE = 200;

    /** The permissions a qcow2 writer holds. */
    private static final Set<BlockPermission> WRITER_HOLDS =
            EnumSet.of(BlockPermission.CONSISTENT_READ, BlockPermission.WRITE, BlockPermission.RESIZE);
    /** The permissions a qcow2 writer does not share with anybody. */
    private static final Set<BlockPermission> WRITER_UNSHARES =
            EnumSet.of(BlockPermission.WRITE, BlockPermission.RESIZE);

    private final LibC libc;
    private final int fd;
    private final Flock flock;
    /** The bytes this lock has locked, in the order taken; emptied by {@link #close()}. */
    private final List<Long> locked = new ArrayList<>();

    private ImageLock(LibC libc, int fd, Flock flock) {
        this.libc = libc;
        this.fd = fd;
        this.flock = flock;
    }

    /**
     * Takes the locks of a qcow2 writer on the open file description of {@code fd}, which must be
     * open for reading and writing ({@link PositionalFile#descriptor()} of a file from
     * {@link PositionalFile#openReadWrite}).
     *
     * @throws LockConflictException another open of the file holds the image in a way that rules
     *         out writing it; no lock is left behind
     * @throws IOException the locks cannot be taken at all (no native descriptor because libc could
     *         not be bound, a 32-bit JVM, a kernel or file system without open file description locks);
     *         the message says which, to follow "cannot take QEMU's image locks: "
     */
    public static ImageLock acquireForWrite(int fd) throws IOException {
        LibC libc = LibC.get();
        if (libc == null) {
            throw new IOException("libc could not be bound through jnr-ffi");
        }
        if (fd < 0) {
            throw new IOException("the file was opened without a native descriptor to lock");
        }
        ImageLock lock = new ImageLock(libc, fd, Flock.allocate(libc));
        try {
            for (BlockPermission p : WRITER_HOLDS) {
                lock.lockShared(p.heldByte());
            }
            for (BlockPermission p : WRITER_UNSHARES) {
                lock.lockShared(p.unsharedByte());
            }
            for (BlockPermission p : WRITER_HOLDS) {
                if (lock.taken(p.unsharedByte())) {
                    throw new LockConflictException("Failed to get \"" + p.qemuName() + "\" lock", p.unsharedByte());
                }
            }
            for (BlockPermission p : WRITER_UNSHARES) {
                if (lock.taken(p.heldByte())) {
                    throw new LockConflictException("Failed to get shared \"" + p.qemuName() + "\" lock",
                            p.heldByte());
                }
            }
            return lock;
        } catch (IOException | RuntimeException e) {
            try {
                lock.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Takes a shared lock on one byte. */
    private void lockShared(long offset) throws IOException {
        if (libc.fcntl(fd, LibC.F_OFD_SETLK, flock.oneByte(LibC.F_RDLCK, offset).pointer()) != 0) {
            int errno = errno();
            if (errno == LibC.EAGAIN || errno == LibC.EACCES) {
                // Someone holds an exclusive lock there: not QEMU, but just as much in the way.
                throw new LockConflictException("Failed to lock byte " + offset, offset);
            }
            throw failure("locking byte " + offset, errno);
        }
        locked.add(offset);
    }

    /** Whether another open file description holds a lock on the byte (so a write lock could not be had). */
    private boolean taken(long offset) throws IOException {
        if (libc.fcntl(fd, LibC.F_OFD_GETLK, flock.oneByte(LibC.F_WRLCK, offset).pointer()) != 0) {
            throw failure("testing the lock on byte " + offset, errno());
        }
        return flock.type() != LibC.F_UNLCK;
    }

    /** The errno the last libc call of this thread left. */
    private int errno() {
        return jnr.ffi.Runtime.getRuntime(libc).getLastError();
    }

    private IOException failure(String what, int errno) {
        return new IOException(what + " (an open file description lock): " + libc.strerror(errno));
    }

    /**
     * Releases exactly the locks this object took, leaving the file open. Closing the descriptor
     * would release them too; this lets a writer give the image back before it closes the file.
     * Calling it again does nothing.
     */
    @Override
    public void close() throws IOException {
        IOException first = null;
        for (int i = locked.size() - 1; i >= 0; i--) {
            long offset = locked.get(i);
            if (libc.fcntl(fd, LibC.F_OFD_SETLK, flock.oneByte(LibC.F_UNLCK, offset).pointer()) != 0) {
                IOException e = failure("unlocking byte " + offset, errno());
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        locked.clear();
        if (first != null) {
            throw first;
        }
    }
}
