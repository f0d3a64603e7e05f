package io.qsnapfs.fuse;

import com.kenai.jffi.MemoryIO;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.types.size_t;

/**
 * Asks the kernel for what libfuse 2.9 does not know to ask for. libfuse answers the INIT request
 * with the protocol 7.19 {@code fuse_init_out}; here it processes INIT as always, but its reply
 * goes through a channel of our own whose send extends the reply to the 7.28 layout and sets:
 * <ul>
 * <li>{@code FUSE_MAX_PAGES} with {@link #MAX_PAGES}: READ requests of up to 512 KiB instead of
 * 128 KiB, so a large read costs fewer round trips through the server;
 * <li>{@code FUSE_ASYNC_DIO}, when the kernel offers it: an O_DIRECT read larger than one request
 * goes out as several requests at once, which several workers answer in parallel (the copy into
 * the reader's pages then runs on more than one core).
 * </ul>
 * The kernel takes {@code max_pages} only with its flag, and clamps it to what it supports.
 *
 * <p>Measured on 2 GiB through the mount, O_DIRECT dd bs=1M from the page cache: 4-5.6 GB/s with
 * 240 pages and no async DIO, 5.8-9.7 GB/s with 128 pages and async DIO (the cached image file
 * itself: 7.5 GB/s); 256 pages was slower than 240 (libfuse's pipe could not grow, so it copied).
 *
 * <pre>
 * struct fuse_out_header (16 bytes): 0 len (u32), 4 error (s32), 8 unique (u64)
 * struct fuse_init_out (7.28+, 64 bytes): 0 major, 4 minor, 8 max_readahead, 12 flags (u32 each),
 *     16 max_background (u16), 18 congestion_threshold (u16), 20 max_write (u32), 24 time_gran (u32),
 *     28 max_pages (u16), 30 map_alignment (u16), 32 flags2 (u32), 36 reserved to 64
 * struct iovec (16 bytes): 0 base (pointer), 8 len (size_t)
 * struct fuse_chan_ops (24 bytes): 0 receive, 8 send, 16 destroy (function pointers)
 * </pre>
 *
 * <p>{@link #MAX_PAGES} stays below libfuse's splice limit: it sizes the pipe for a reply as its
 * length plus a page per buffer and one more, and a pipe of more than 1 MiB (pipe-max-size) may be
 * refused, after which that thread copies every large reply instead of splicing it.
 */
final class InitReply {
    /** Pages per request: 512 KiB, far below the splice limit (above). */
    static final int MAX_PAGES = 128;
    private static final int FUSE_ASYNC_DIO = 1 << 15;
    private static final int HEADER = 16;
    private static final int INIT_OUT = 64;
    private static final int OLD_INIT_OUT = 24;
    private static final int FLAGS = 12;
    private static final int MAX_PAGES_OFFSET = 28;
    private static final int FUSE_MAX_PAGES = 1 << 22;
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    /** {@code int (*send)(struct fuse_chan *ch, const struct iovec iov[], size_t count)}. */
    public interface Send {
        @Delegate
        int send(Pointer channel, Pointer iov, @size_t long count);
    }

    private final LibFuseSession lib;
    private final Pointer channel;
    /** Kept reachable: jnr-ffi holds the Java side of a callback only weakly. */
    private final Send send = this::send;
    /** The INIT request's flags, what the kernel offers; set and read on the worker serving INIT. */
    private int offered;

    InitReply(LibFuseSession lib, Pointer channel) {
        this.lib = lib;
        this.channel = channel;
    }

    /**
     * Processes the INIT request in {@code buf} with the reply extended on its way out;
     * {@code offeredFlags} are the flags of the kernel's request.
     */
    void process(Pointer session, Pointer buf, long bufferSize, int offeredFlags) {
        offered = offeredFlags;
        jnr.ffi.Runtime runtime = jnr.ffi.Runtime.getRuntime(lib);
        Pointer ops = jnr.ffi.Memory.allocateDirect(runtime, 24, true);
        ops.putPointer(8, runtime.getClosureManager().getClosurePointer(Send.class, send));
        Pointer temporary = lib.fuse_chan_new(ops, lib.fuse_chan_fd(channel), bufferSize, null);
        if (temporary == null) {
            lib.fuse_session_process_buf(session, buf, channel);
            return;
        }
        try {
            lib.fuse_session_process_buf(session, buf, temporary);
        } finally {
            lib.fuse_chan_destroy(temporary);
        }
    }

    private int send(Pointer ignored, Pointer iov, long count) {
        long total = 0;
        for (int i = 0; i < count; i++) {
            total += iov.getLong(16L * i + 8);
        }
        boolean grow = total == HEADER + OLD_INIT_OUT;
        long size = grow ? HEADER + INIT_OUT : total;
        long message = MEMORY.allocateMemory(size + 16, true);
        try {
            long at = message;
            for (int i = 0; i < count; i++) {
                long base = iov.getAddress(16L * i);
                long len = iov.getLong(16L * i + 8);
                MEMORY.copyMemory(base, at, len);
                at += len;
            }
            // an error reply (4 bytes of error, no body) goes out unchanged
            if (grow && MEMORY.getInt(message + 4) == 0) {
                MEMORY.putInt(message, (int) size);
                long out = message + HEADER;
                MEMORY.putInt(out + FLAGS, MEMORY.getInt(out + FLAGS) | FUSE_MAX_PAGES | offered & FUSE_ASYNC_DIO);
                MEMORY.putShort(out + MAX_PAGES_OFFSET, (short) MAX_PAGES);
            } else {
                size = total;
            }
            long vector = message + size;
            MEMORY.putAddress(vector, message);
            MEMORY.putLong(vector + 8, size);
            return lib.fuse_chan_send(channel, Pointer.wrap(jnr.ffi.Runtime.getRuntime(lib), vector), 1);
        } finally {
            MEMORY.freeMemory(message);
        }
    }
}
