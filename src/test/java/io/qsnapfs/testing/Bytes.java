package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
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
