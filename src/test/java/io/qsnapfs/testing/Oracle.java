package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Compares what the engine reads with what QEMU's tools produce: whole disks in chunks of many
 * sizes, and random ranges at odd offsets into buffers that do not start at position 0.
 */
public final class Oracle {
    /** Chunk sizes every whole-disk read is repeated with: sector, page, FUSE sizes, and odd ones. */
    public static final int[] CHUNKS = {512, 4096, 128 * 1024, 1 << 20, 3000};

    private Oracle() {
    }

    /**
     * Reads every snapshot and the active layer of {@code image} through the engine and compares
     * them with {@code qemu-img convert}. Returns the number of snapshots compared.
     */
    public static int assertImageMatchesQemu(Path image, Path scratch) {
        return assertImageMatchesQemu(image, scratch, CHUNKS, 48, 0);
    }

    /**
     * Like {@link #assertImageMatchesQemu(Path, Path)} with a choice of chunk sizes and of the
     * number of random ranges; {@code seed} is mixed into the random ranges and shown in failures.
     */
    public static int assertImageMatchesQemu(Path image, Path scratch, int[] chunks, int ranges, long seed) {
        try (QcowImage qi = QcowImage.open(image)) {
            for (SnapshotEntry s : qi.snapshots()) {
                byte[] expected = snapshotBytes(image, s.idString(), scratch);
                assertReads(expected, qi.snapshotView(s), image.getFileName() + " snapshot " + s.idString()
                        + " (" + s.nameString() + ")", chunks, ranges, seed);
            }
            assertReads(activeBytes(image, scratch), qi.activeView(), image.getFileName() + " active layer",
                    chunks, ranges, seed);
            return qi.snapshots().size();
        }
    }

    /**
     * {@code qemu-img snapshot -c NAME IMAGE}, which must succeed, with flushes turned off
     * ({@code cache.no-flush=on}): the image comes out the same, but without the several fsyncs
     * per snapshot that make a loaded disk take half a second each.
     */
    public static void snapshot(Path image, String name) {
        Qemu.Result r = trySnapshot(image, name);
        if (r.exitCode() != 0) {
            fail("qemu-img snapshot -c " + name + " " + image + " exited " + r.exitCode() + ":\n" + r.stderr());
        }
    }

    /** Like {@link #snapshot} but returns the result instead of failing. */
    public static Qemu.Result trySnapshot(Path image, String name) {
        return Qemu.run(List.of("qemu-img", "snapshot", "-c", name, "--image-opts", noFlushOpts(image)));
    }

    /** {@code --image-opts} for a qcow2 image whose flushes are no-ops. */
    public static String noFlushOpts(Path image) {
        return "driver=qcow2,file.driver=file,file.filename=" + image.toString().replace(",", ",,")
                + ",cache.no-flush=on";
    }

    /** A snapshot's bytes by ID: {@code qemu-img convert -t unsafe -l snapshot.id=ID -O raw}. */
    public static byte[] snapshotBytes(Path image, String id, Path scratch) {
        return convert(image, scratch, "-l", "snapshot.id=" + id);
    }

    /** The active layer's bytes: {@code qemu-img convert -t unsafe -O raw}. */
    public static byte[] activeBytes(Path image, Path scratch) {
        return convert(image, scratch);
    }

    private static byte[] convert(Path image, Path scratch, String... extra) {
        Path out = scratch.resolve("oracle-" + System.nanoTime() + ".raw");
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "convert", "-t", "unsafe"));
        cmd.addAll(List.of(extra));
        cmd.addAll(List.of("-O", "raw", image.toString(), out.toString()));
        try {
            Qemu.ok(cmd.toArray(new String[0]));
            return Files.readAllBytes(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                Files.deleteIfExists(out);
            } catch (IOException ignored) {
                // in a JUnit temp dir that goes away anyway
            }
        }
    }

    /**
     * Converts a snapshot ({@code id} non-null) or the active layer to a sparse raw file and
     * returns its path, for disks too large to hold in an array.
     */
    public static Path convertToFile(Path image, String id, Path out) {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "convert", "-t", "unsafe"));
        if (id != null) {
            cmd.addAll(List.of("-l", "snapshot.id=" + id));
        }
        cmd.addAll(List.of("-O", "raw", image.toString(), out.toString()));
        Qemu.ok(cmd.toArray(new String[0]));
        return out;
    }

    /**
     * Compares {@code ranges} ({offset, length} pairs) of {@code source} with the same ranges of
     * the raw file {@code expected}, which must have the disk's size.
     */
    public static void assertRangesMatchFile(Path expected, BlockSource source, List<long[]> ranges, String what) {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(expected)) {
            assertEquals(ch.size(), source.size(), what + ": disk size");
            for (long[] r : ranges) {
                long off = Math.max(0, Math.min(r[0], source.size() - 1));
                int len = (int) Math.min(r[1], source.size() - off);
                ByteBuffer want = ByteBuffer.allocate(len);
                while (want.hasRemaining() && ch.read(want, off + want.position()) >= 0) {
                    // keep reading
                }
                ByteBuffer got = ByteBuffer.allocateDirect(len);
                assertEquals(len, read(source, off, got), what + ": bytes read at " + off);
                got.flip();
                want.flip();
                int mismatch = want.mismatch(got);
                if (mismatch >= 0) {
                    fail(what + ": first difference at disk offset " + (off + mismatch) + " (read of " + len
                            + " at " + off + "): got " + (got.get(mismatch) & 0xff) + ", expected "
                            + (want.get(mismatch) & 0xff));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@link #assertReads(byte[], BlockSource, String, int[], int, long)} with every chunk size. */
    public static void assertReads(byte[] expected, BlockSource source, String what) {
        assertReads(expected, source, what, CHUNKS, 48, 0);
    }

    /**
     * Asserts that {@code source} is exactly {@code expected}: its size, whole reads in each chunk
     * size, {@code ranges} random ranges (odd offsets and lengths, some crossing cluster and table
     * boundaries, some running past the end of the disk), and reads at or past the end.
     */
    public static void assertReads(byte[] expected, BlockSource source, String what, int[] chunks, int ranges,
            long seed) {
        assertEquals(expected.length, source.size(), what + ": disk size");
        for (int chunk : chunks) {
            Bytes.assertSameBytes(expected, Bytes.readAll(source, chunk), what + ", read in chunks of " + chunk);
        }
        long rangeSeed = seed * 31 + what.hashCode();
        Random r = new Random(rangeSeed);
        int size = expected.length;
        for (int i = 0; i < ranges && size > 0; i++) {
            int offset;
            int length;
            switch (i % 4) {
                case 0 -> { // odd offset, short
                    offset = r.nextInt(size) | 1;
                    length = 1 + r.nextInt(5000);
                }
                case 1 -> { // around a power-of-two boundary (cluster, subcluster, L2 table)
                    int boundary = 1 << (9 + r.nextInt(14));
                    int k = Math.max(1, size / boundary);
                    offset = Math.max(0, (int) ((long) (1 + r.nextInt(k)) * boundary - 1 - r.nextInt(700)));
                    length = 1 + r.nextInt(3 * boundary + 1000);
                }
                case 2 -> { // long
                    offset = r.nextInt(size);
                    length = 1 + r.nextInt(3 << 20);
                }
                default -> { // running into the end of the disk
                    offset = Math.max(0, size - 1 - r.nextInt(Math.min(size, 70_000)));
                    length = 1 + r.nextInt(140_000);
                }
            }
            if (offset >= size) {
                offset = size - 1;
            }
            assertRange(expected, source, offset, length, 1 + r.nextInt(13), r.nextBoolean(),
                    what + " (range seed " + rangeSeed + ")");
        }
        // At and past the end: nothing is read, the buffer is left alone.
        ByteBuffer b = ByteBuffer.allocate(100);
        assertEquals(0, read(source, size, b), what + ": read at the end of the disk");
        assertEquals(0, read(source, size + 12345L, b), what + ": read past the end of the disk");
        assertEquals(0, b.position(), what + ": buffer position after a read at the end");
    }

    /**
     * Reads {@code length} bytes at {@code offset} into a buffer whose position starts at
     * {@code lead}, and checks the bytes, the count returned, and that the bytes around the target
     * range are untouched.
     */
    public static void assertRange(byte[] expected, BlockSource source, int offset, int length, int lead,
            boolean direct, String what) {
        final byte sentinel = (byte) 0xA7;
        int tail = 9;
        ByteBuffer buf = direct ? ByteBuffer.allocateDirect(lead + length + tail)
                : ByteBuffer.allocate(lead + length + tail);
        for (int i = 0; i < buf.capacity(); i++) {
            buf.put(i, sentinel);
        }
        buf.position(lead).limit(lead + length);
        int n = read(source, offset, buf);
        int want = (int) Math.min(length, (long) expected.length - offset);
        String where = what + ": read of " + length + " bytes at " + offset + (direct ? " (direct" : " (heap")
                + " buffer, position " + lead + ")";
        assertEquals(want, n, where + ": bytes read");
        assertEquals(lead + want, buf.position(), where + ": buffer position afterwards");
        buf.limit(buf.capacity());
        byte[] got = new byte[want];
        buf.get(lead, got);
        byte[] exp = new byte[want];
        System.arraycopy(expected, offset, exp, 0, want);
        int mismatch = java.util.Arrays.mismatch(exp, got);
        if (mismatch >= 0) {
            fail(where + ": first difference at disk offset " + (offset + mismatch) + " (0x"
                    + Long.toHexString(offset + mismatch) + "): got " + (got[mismatch] & 0xff) + ", expected "
                    + (exp[mismatch] & 0xff));
        }
        for (int i = 0; i < lead; i++) {
            if (buf.get(i) != sentinel) {
                fail(where + ": wrote before the buffer's position, at index " + i);
            }
        }
        for (int i = lead + want; i < buf.capacity(); i++) {
            if (buf.get(i) != sentinel) {
                fail(where + ": wrote past the bytes it returned, at index " + i);
            }
        }
    }

    public static int read(BlockSource source, long offset, ByteBuffer dst) {
        try {
            return source.read(offset, dst);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads {@code length} bytes at {@code offset} (fewer at the end of the disk). */
    public static byte[] readRange(BlockSource source, long offset, int length) {
        ByteBuffer b = ByteBuffer.allocate(length);
        int n = read(source, offset, b);
        byte[] out = new byte[n];
        b.get(0, out);
        return out;
    }

    /** Writes {@code length} bytes of poorly compressible data (values 0..31, seeded) to a new file. */
    public static Path noiseFile(Path dir, String name, int length, long seed) {
        byte[] b = noise(length, seed);
        Path p = dir.resolve(name);
        try {
            Files.write(p, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
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

    /** The bytes of a file. */
    public static byte[] readFile(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a command with {@code dir} as its working directory; it must succeed. Returns stdout. */
    public static String okIn(Path dir, String... command) {
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "cd \"$0\" && exec \"$@\"", dir.toString()));
        cmd.addAll(List.of(command));
        Qemu.Result r = viaShell(cmd);
        String all = r.stdout() + r.stderr();
        if (r.exitCode() != 0 || all.contains("failed") || all.contains("rror")) {
            fail(String.join(" ", command) + " in " + dir + " exited " + r.exitCode() + ":\n" + all);
        }
        return r.stdout();
    }

    /**
     * Runs {@code qemu-img ARGS...} through {@code sh}, with every argument of the form
     * {@code @FILE} replaced by the exact bytes of FILE. This passes names (UTF-8, spaces, long) to
     * QEMU byte for byte, whatever locale the JVM encodes command lines in.
     */
    public static Qemu.Result qemuImgWithFileArgs(String... args) {
        StringBuilder script = new StringBuilder("exec qemu-img");
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", ""));
        cmd.add("sh");
        int n = 0;
        for (String a : args) {
            n++;
            if (a.startsWith("@")) {
                script.append(" \"$(cat \"${").append(n).append("}\")\"");
                cmd.add(a.substring(1));
            } else {
                script.append(" \"${").append(n).append("}\"");
                cmd.add(a);
            }
        }
        cmd.set(2, script.toString());
        return viaShell(cmd);
    }

    /** Runs a command through sh; a tool sh cannot find fails the test like a missing one does. */
    private static Qemu.Result viaShell(List<String> cmd) {
        Qemu.Result r = Qemu.run(cmd);
        if (r.exitCode() == 127) {
            fail("cannot run " + String.join(" ", cmd) + " (" + r.stderr().trim() + "); run make setup");
        }
        return r;
    }
}
