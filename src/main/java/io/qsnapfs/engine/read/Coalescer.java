package io.qsnapfs.engine.read;

import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Merges neighbouring extents before they reach the real sink: runs of zeros become one zero
 * extent, and data clusters that lie one after another in the same file become one read. This is
 * what lets a 1 MiB read of a freshly written image turn into a single pread.
 */
final class Coalescer implements ExtentSink {
    private final ExtentSink out;
    private PositionalFile pendingFile;
    private long pendingOffset;
    private long pendingLength;
    private boolean pendingZero;

    Coalescer(ExtentSink out) {
        this.out = out;
    }

    @Override
    public void zero(long length) throws IOException {
        if (length == 0) {
            return;
        }
        if (pendingLength > 0 && !pendingZero) {
            flush();
        }
        pendingZero = true;
        pendingLength += length;
    }

    @Override
    public void data(PositionalFile file, long hostOffset, long length) throws IOException {
        if (length == 0) {
            return;
        }
        if (pendingLength > 0 && (pendingZero || pendingFile != file || pendingOffset + pendingLength != hostOffset)) {
            flush();
        }
        if (pendingLength == 0) {
            pendingZero = false;
            pendingFile = file;
            pendingOffset = hostOffset;
        }
        pendingLength += length;
    }

    @Override
    public void bytes(ByteBuffer data) throws IOException {
        flush();
        out.bytes(data);
    }

    void flush() throws IOException {
        if (pendingLength == 0) {
            return;
        }
        long length = pendingLength;
        pendingLength = 0;
        if (pendingZero) {
            out.zero(length);
        } else {
            out.data(pendingFile, pendingOffset, length);
        }
        pendingFile = null;
    }
}
