package io.qsnapfs.fuse;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.types.size_t;

/**
 * The parts of libfuse 2.9's API that jnr-fuse does not bind and that a request loop of our own
 * needs: set-up and tear-down of a mounted session, receiving and processing one request, and the
 * kernel notifications that drop cached names. Public only because jnr-ffi implements it in a
 * class loader of its own. Everything else (the operations struct, the
 * callbacks and their types) stays jnr-fuse's.
 *
 * <pre>
 * struct fuse_buf (x86_64, 40 bytes): 0 size (size_t), 8 flags (enum), 16 mem (void *), 24 fd (int), 32 pos (off_t)
 * struct fuse_in_header, at the start of a received request:
 *     0 len (u32), 4 opcode (u32), 8 unique (u64), 16 nodeid (u64), 24 uid, 28 gid, 32 pid, 36 padding
 * struct fuse_init_in, after it in an INIT request: 40 major, 44 minor, 48 max_readahead, 52 flags (u32 each)
 * </pre>
 */
public interface LibFuseSession {
    int FUSE_BUF_SIZE = 40;
    int BUF_SIZE_OFFSET = 0;
    int BUF_FLAGS_OFFSET = 8;
    int BUF_MEM_OFFSET = 16;
    int BUF_FD_OFFSET = 24;
    int BUF_POS_OFFSET = 32;
    int HEADER_OPCODE_OFFSET = 4;
    int HEADER_NODEID_OFFSET = 16;
    /** The flags of {@code struct fuse_init_in} (major, minor, max_readahead, flags) after the 40-byte header. */
    int INIT_IN_FLAGS_OFFSET = 40 + 12;

    /**
     * Parses {@code argv} (which must hold {@code -f}, or libfuse forks), mounts and creates the
     * session. Returns null on failure, having said why on standard error. The mount point string it
     * stores in {@code *mountpoint} belongs to {@link #fuse_teardown}.
     */
    Pointer fuse_setup(int argc, String[] argv, Pointer op, @size_t long opSize, Pointer mountpoint,
            Pointer multithreaded, Pointer userData);

    /** Unmounts (if still mounted), destroys the session and frees the mount point string. */
    void fuse_teardown(Pointer fuse, Pointer mountpoint);

    Pointer fuse_get_session(Pointer fuse);

    Pointer fuse_session_next_chan(Pointer session, Pointer channel);

    @size_t
    long fuse_chan_bufsize(Pointer channel);

    int fuse_chan_fd(Pointer channel);

    /**
     * A channel whose operations are ours: {@code ops} points to {@code struct fuse_chan_ops}
     * (receive, send, destroy: three function pointers), which libfuse copies.
     */
    Pointer fuse_chan_new(Pointer ops, int fd, @size_t long bufferSize, Pointer data);

    /** Sends one message through a channel: {@code iov} is an array of {@code count} struct iovec. */
    int fuse_chan_send(Pointer channel, Pointer iov, @size_t long count);

    void fuse_chan_destroy(Pointer channel);

    /**
     * Waits for one request. Returns its size; 0 when the file system is unmounted (the session
     * then counts as exited); a negative errno on failure ({@code -EINTR}: try again).
     */
    int fuse_session_receive_buf(Pointer session, Pointer buf, Pointer channelp);

    /** Processes one received request: calls the operation and sends the reply. */
    void fuse_session_process_buf(Pointer session, Pointer buf, Pointer channel);

    void fuse_session_exit(Pointer session);

    int fuse_session_exited(Pointer session);

    /**
     * Drops the kernel's cached entry {@code name} in directory {@code parent}; 0 or a negative
     * errno. The name's bytes must be followed by a NUL at {@code nameLength}: libfuse sends it along.
     */
    int fuse_lowlevel_notify_inval_entry(Pointer channel, long parent, byte[] name, @size_t long nameLength);

    /** Drops the kernel's cached attributes of node {@code ino}, and its pages from {@code offset} ({@code length} 0: all). */
    int fuse_lowlevel_notify_inval_inode(Pointer channel, long ino, long offset, long length);

    /** Loads libfuse.so.2, the library jnr-fuse loads too. */
    static LibFuseSession load() {
        try {
            return LibraryLoader.create(LibFuseSession.class).failImmediately().load("fuse");
        } catch (UnsatisfiedLinkError e) {
            return LibraryLoader.create(LibFuseSession.class).failImmediately().load("libfuse.so.2");
        }
    }
}
