package io.qsnapfs.fuse;

import com.kenai.jffi.MemoryIO;
import io.qsnapfs.engine.read.ExtentSink;
import io.qsnapfs.io.PositionalFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the {@code struct fuse_bufvec} that libfuse's {@code read_buf} returns: data stored in a
 * file becomes a (descriptor, offset) entry that libfuse splices from the page cache into
 * /dev/fuse without the bytes passing through this process; zeros and decompressed bytes become
 * memory entries. Memory comes from malloc (jffi) because libfuse frees it, and the vector itself,
 * with free().
 *
 * <pre>
 * struct fuse_bufvec (x86_64):  0 count, 8 idx, 16 off (size_t each), 24 buf[count]
 * struct fuse_buf, 40 bytes:    0 size (size_t), 8 flags (enum), 16 mem (void *), 24 fd (int), 32 pos (off_t)
 * </pre>
 */
final class SpliceReply implements ExtentSink {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    private static final int HEADER = 24;
    private static final int BUF = 40;
    private static final int FUSE_BUF_IS_FD = 1 << 1;
    private static final int FUSE_BUF_FD_SEEK = 1 << 2;

    /** One fuse_buf to be: a file range (fd >= 0) or malloc'd memory. */
    private record Part(long size, int fd, long pos, long mem) {
    }

    private final List<Part> parts = new ArrayList<>(4);

    @Override
    public void zero(long length) {
        parts.add(new Part(length, -1, 0, allocate(length, true)));
    }

    @Override
    public void data(PositionalFile file, long hostOffset, long length) throws java.io.IOException {
        int fd = file.descriptor();
        if (fd >= 0 && hostOffset + length <= file.lengthCovering(hostOffset + length)) {
            parts.add(new Part(length, fd, hostOffset, 0));
            return;
        }
        // No descriptor, or a cluster cut short by the end of the file: a short splice would look
        // like the end of the snapshot file to the kernel, so read it here, zeros past the end.
        long mem = allocate(length, true);
        parts.add(new Part(length, -1, 0, mem));
        file.readFully(hostOffset, MEMORY.newDirectByteBuffer(mem, (int) length));
    }

    @Override
    public void bytes(ByteBuffer data) {
        int n = data.remaining();
        long mem = allocate(n, false);
        parts.add(new Part(n, -1, 0, mem));
        MEMORY.newDirectByteBuffer(mem, n).put(data);
    }

    private long allocate(long length, boolean clear) {
        long mem = MEMORY.allocateMemory(Math.max(1, length), clear);
        if (mem == 0) {
            throw new OutOfMemoryError("malloc of " + length + " bytes for a FUSE reply failed");
        }
        return mem;
    }

    /** Writes the vector to malloc'd memory and returns its address; libfuse owns it from now. */
    long build() {
        long vec = allocate(HEADER + (long) BUF * Math.max(1, parts.size()), true);
        MEMORY.putLong(vec, parts.size());
        for (int i = 0; i < parts.size(); i++) {
            Part p = parts.get(i);
            long b = vec + HEADER + (long) BUF * i;
            MEMORY.putLong(b, p.size());
            MEMORY.putInt(b + 8, p.fd() >= 0 ? FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK : 0);
            MEMORY.putLong(b + 16, p.mem());
            MEMORY.putInt(b + 24, p.fd());
            MEMORY.putLong(b + 32, p.pos());
        }
        parts.clear();
        return vec;
    }

    /** Frees what was allocated when the reply is not sent. */
    void discard() {
        for (Part p : parts) {
            if (p.mem() != 0) {
                MEMORY.freeMemory(p.mem());
            }
        }
        parts.clear();
    }
}
