package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** Byte arrays and the files that hold them: comparing them, seeded noise, whole-file reads and writes. */
public final class Bytes {
    private Bytes() {
    }

    /** Fails with the first differing offset, not a megabyte-long dump. */
    public static void assertSameBytes(byte[] expected, byte[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int mismatch = Arrays.mismatch(expected, actual);
        if (mismatch >= 0) {
            fail(what + ": first difference at byte " + mismatch + " (0x" + Integer.toHexString(mismatch)
                    + "): got " + (actual[mismatch] & 0xff) + ", expected " + (expected[mismatch] & 0xff));
        }
    }

    /**
     * Fails unless the two files have the same length and bytes, with the first differing offset;
     * reads them a megabyte at a time, so they may be larger than an array.
     */
    public static void assertSameFiles(Path expected, Path actual, String what) {
        try (FileChannel a = FileChannel.open(expected); FileChannel b = FileChannel.open(actual)) {
            if (a.size() != b.size()) {
                fail(what + ": length " + b.size() + ", expected " + a.size());
            }
            ByteBuffer x = ByteBuffer.allocate(1 << 20);
            ByteBuffer y = ByteBuffer.allocate(1 << 20);
            for (long pos = 0; pos < a.size(); pos += x.limit()) {
                x.clear().limit((int) Math.min(x.capacity(), a.size() - pos));
                y.clear().limit(x.limit());
                readFully(a, pos, x);
                readFully(b, pos, y);
                int mismatch = x.flip().mismatch(y.flip());
                if (mismatch >= 0) {
                    long at = pos + mismatch;
                    fail(what + ": first difference at byte " + at + " (0x" + Long.toHexString(at) + "): got "
                            + (y.get(mismatch) & 0xff) + ", expected " + (x.get(mismatch) & 0xff));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Fills {@code dst} from {@code position} of {@code file}, which must hold that many bytes. */
    public static void readFully(FileChannel file, long position, ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            if (file.read(dst, position + dst.position()) < 0) {
                throw new IOException("unexpected end of file at " + (position + dst.position()));
            }
        }
    }

    /** Bytes in 0..31 from a seeded generator: deflate and zstd get them to roughly 65-80%. */
    public static byte[] noise(int length, long seed) {
        Random r = new Random(seed);
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) r.nextInt(32);
        }
        return b;
    }

    /** Writes {@code length} bytes of {@link #noise} to a new file {@code dir/name}. */
    public static Path noiseFile(Path dir, String name, int length, long seed) {
        Path p = dir.resolve(name);
        writeFile(p, noise(length, seed));
        return p;
    }

    /** Writes {@code data} to {@code p}, replacing what it held. */
    public static void writeFile(Path p, byte[] data) {
        try {
            Files.write(p, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bytes of a file. */
    public static byte[] readFile(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
