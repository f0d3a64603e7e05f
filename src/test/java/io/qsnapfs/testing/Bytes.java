package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.read.BlockSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/** Reading a whole disk through the engine and comparing it with the oracle's bytes. */
public final class Bytes {
    private Bytes() {
    }

    /** Reads the whole source in chunks of {@code chunk} bytes (a direct buffer, as FUSE gives). */
    public static byte[] readAll(BlockSource source, int chunk) {
        if (source.size() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("disk too large for a test: " + source.size());
        }
        byte[] all = new byte[(int) source.size()];
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        try {
            for (long pos = 0; pos < all.length; ) {
                buf.clear();
                int n = source.read(pos, buf);
                buf.flip();
                buf.get(all, (int) pos, n);
                pos += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return all;
    }

    /** Fails with the first differing offset, not a megabyte-long dump. */
    public static void assertSameBytes(byte[] expected, byte[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int mismatch = java.util.Arrays.mismatch(expected, actual);
        if (mismatch >= 0) {
            fail(what + ": first difference at byte " + mismatch + " (0x" + Integer.toHexString(mismatch)
                    + "): got " + (actual[mismatch] & 0xff) + ", expected " + (expected[mismatch] & 0xff));
        }
    }
}
