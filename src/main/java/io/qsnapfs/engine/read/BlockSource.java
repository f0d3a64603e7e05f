package io.qsnapfs.engine.read;

import io.qsnapfs.io.Zeros;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A read-only virtual disk: a qcow2 snapshot or active layer, or a raw file. All reading goes
 * through {@link #map}, so there is one translation path whether the bytes end up in a FUSE
 * buffer ({@link #read}) or are copied file to file (export).
 */
public interface BlockSource {
    /** The disk's size in bytes; nothing exists past it. */
    long size();

    /** A short name for messages, e.g. "web01.qcow2 snapshot 3". */
    String describe();

    /**
     * Translates {@code [offset, offset + length)}, which must lie within {@link #size()}, and
     * hands it to {@code sink} in order.
     */
    void map(long offset, long length, ExtentSink sink) throws IOException;

    /**
     * Fills {@code dst} with the disk's bytes from {@code offset} on. The part of {@code dst} past
     * the end of the disk is left untouched; returns the number of bytes read. Data is copied once,
     * from the file straight into {@code dst}.
     */
    default int read(long offset, ByteBuffer dst) throws IOException {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        if (offset >= size()) {
            return 0;
        }
        int length = (int) Math.min(dst.remaining(), size() - offset);
        ByteBuffer target = dst.slice(dst.position(), length);
        map(offset, length, new ExtentSink() {
            @Override
            public void zero(long n) {
                Zeros.fill(target, n);
            }

            @Override
            public void data(io.qsnapfs.io.PositionalFile file, long hostOffset, long n) throws IOException {
                int end = target.position() + (int) n;
                int limit = target.limit();
                target.limit(end);
                file.readFully(hostOffset, target);
                target.limit(limit);
            }

            @Override
            public void bytes(ByteBuffer data) {
                target.put(data);
            }
        });
        dst.position(dst.position() + length);
        return length;
    }
}
