package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * The assertions that hold the code under test to QEMU: what it reads (a {@link Disk}) equals what
 * {@code qemu-img convert} writes, for whole disks in chunks of many sizes and for random ranges
 * at odd offsets into buffers that do not start at position 0; and images must pass
 * {@code qemu-img check}. QEMU's answers come from {@link Qemu}.
 */
public final class Oracle {
    /** Chunk sizes every whole-disk read is repeated with: sector, page, FUSE sizes, and odd ones. */
    public static final int[] CHUNKS = {512, 4096, 128 * 1024, 1 << 20, 3000};

    private Oracle() {
    }

    /**
     * Opens {@code image} with {@code open} (the code under test), reads every snapshot and the
     * active layer through it and compares them with {@code qemu-img convert}. Returns the number
     * of snapshots compared.
     */
    public static int assertImageMatchesQemu(Function<Path, Disk.Image> open, Path image, Path scratch) {
        return assertImageMatchesQemu(open, image, scratch, CHUNKS, 48, 0);
    }

    /**
     * Like {@link #assertImageMatchesQemu(Function, Path, Path)} with a choice of chunk sizes and of
     * the number of random ranges; {@code seed} is mixed into the random ranges and shown in
     * failures.
     */
    public static int assertImageMatchesQemu(Function<Path, Disk.Image> open, Path image, Path scratch,
            int[] chunks, int ranges, long seed) {
        try (Disk.Image ours = open.apply(image)) {
            List<Qemu.Listed> snapshots = ours.snapshots();
            for (int i = 0; i < snapshots.size(); i++) {
                Qemu.Listed s = snapshots.get(i);
                byte[] expected = Qemu.snapshotBytes(image, s.id(), scratch);
                assertReads(expected, ours.snapshot(i), image.getFileName() + " snapshot " + s.id() + " ("
                        + s.name() + ")", chunks, ranges, seed);
            }
            assertReads(Qemu.activeBytes(image, scratch), ours.active(), image.getFileName() + " active layer",
                    chunks, ranges, seed);
            return snapshots.size();
        }
    }

    /** Asserts that {@code qemu-img check} finds no errors and no leaks. */
    public static void assertClean(Path image) {
        assertClean(image, "qemu-img check " + image);
    }

    /** Like {@link #assertClean(Path)}; a failure starts with {@code what}, then the counts and report. */
    public static void assertClean(Path image, String what) {
        Qemu.Check c = Qemu.check(image);
        if (!c.clean()) {
            fail(what + ": " + c + "\n" + Qemu.checkText(image));
        }
    }

    /**
     * Asserts that deleting snapshot {@code name} (a name no other snapshot has) of {@code image}
     * frees exactly {@code bytes}, judged by QEMU on a copy: {@code qemu-img snapshot -d NAME},
     * and {@link TableWalk} counts the host clusters with a refcount before and after. The
     * structures all snapshots share are taken out of both counts, since QEMU rewrites them: the
     * snapshot table (written anew, the old one freed) and the refcount table and blocks (which
     * the new table may need more of). The copy must be clean afterwards.
     */
    public static void assertDeletionFrees(Path image, String name, long bytes, Path scratch) {
        Path copy = scratch.resolve("deleted-" + System.nanoTime() + "-" + image.getFileName());
        try {
            Files.copy(image, copy);
            TableWalk before = TableWalk.of(copy);
            long held = before.clustersInUse() - before.sharedMetadataClusters();
            Qemu.deleteSnapshot(copy, name);
            TableWalk after = TableWalk.of(copy);
            long freed = held - (after.clustersInUse() - after.sharedMetadataClusters());
            assertEquals(freed * before.clusterSize(), bytes, () -> image.getFileName() + ": deleting snapshot '"
                    + name + "' freed " + freed + " clusters of " + before.clusterSize() + " bytes");
            assertClean(copy, "after qemu-img snapshot -d " + name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                Files.deleteIfExists(copy);
            } catch (IOException ignored) {
                // in a JUnit temp dir, removed anyway
            }
        }
    }

    /**
     * Compares {@code ranges} ({offset, length} pairs) of {@code source} with the same ranges of
     * the raw file {@code expected}, which must have the disk's size.
     */
    public static void assertRangesMatchFile(Path expected, Disk source, List<long[]> ranges, String what) {
        try (FileChannel ch = FileChannel.open(expected)) {
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

    /** {@link #assertReads(byte[], Disk, String, int[], int, long)} with every chunk size. */
    public static void assertReads(byte[] expected, Disk source, String what) {
        assertReads(expected, source, what, CHUNKS, 48, 0);
    }

    /**
     * Asserts that {@code source} is exactly {@code expected}: its size, whole reads in each chunk
     * size, {@code ranges} random ranges (odd offsets and lengths, some crossing cluster and table
     * boundaries, some running past the end of the disk), and reads at or past the end.
     */
    public static void assertReads(byte[] expected, Disk source, String what, int[] chunks, int ranges,
            long seed) {
        assertEquals(expected.length, source.size(), what + ": disk size");
        for (int chunk : chunks) {
            Bytes.assertSameBytes(expected, readAll(source, chunk), what + ", read in chunks of " + chunk);
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
    public static void assertRange(byte[] expected, Disk source, int offset, int length, int lead,
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
        int mismatch = Arrays.mismatch(exp, got);
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

    // ---- reading through the code under test ------------------------------------------------

    /** {@link Disk#read}, with an I/O error thrown unchecked. */
    public static int read(Disk source, long offset, ByteBuffer dst) {
        try {
            return source.read(offset, dst);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads {@code length} bytes at {@code offset} (fewer at the end of the disk). */
    public static byte[] readRange(Disk source, long offset, int length) {
        ByteBuffer b = ByteBuffer.allocate(length);
        int n = read(source, offset, b);
        byte[] out = new byte[n];
        b.get(0, out);
        return out;
    }

    /** Reads the whole disk in chunks of {@code chunk} bytes (a direct buffer, as FUSE gives). */
    public static byte[] readAll(Disk source, int chunk) {
        if (source.size() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("disk too large for a test: " + source.size());
        }
        byte[] all = new byte[(int) source.size()];
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        for (long pos = 0; pos < all.length; ) {
            buf.clear();
            int n = read(source, pos, buf);
            buf.flip();
            buf.get(all, (int) pos, n);
            pos += n;
        }
        return all;
    }
}
