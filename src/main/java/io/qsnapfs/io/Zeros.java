package io.qsnapfs.io;

import java.nio.ByteBuffer;

/** Fills buffers with zeros from one shared, never-written direct buffer. */
public final class Zeros {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private Zeros() {
    }

    /** Puts {@code length} zero bytes into {@code dst} at its position, advancing it. */
    public static void fill(ByteBuffer dst, long length) {
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(left, ZEROS.capacity());
            dst.put(ZEROS.slice(0, n));
            left -= n;
        }
    }
}
