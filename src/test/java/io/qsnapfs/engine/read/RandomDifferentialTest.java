package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Proves on 64 images built from fixed seeds (random cluster size 512..2M, refcount width,
 * compression type, version, extended L2, optional qcow2/raw backing files, random sizes) and 5-20
 * random qemu-io steps each (pattern writes, zero writes with and without unmap, discards,
 * compressed writes, snapshots) that every snapshot and the active layer read through the engine
 * exactly as {@code qemu-img convert} writes them. A failure names the seed and the recipe.
 */
class RandomDifferentialTest {
    private static final int IMAGES = 64;
    private static final long FIRST_SEED = 20_260_101L;
    private static final int M = 1 << 20;
    private static final int[] CLUSTER_SIZES = {512, 1024, 4096, 16384, 65536, 262144, 2 * M};

    /** Features the seeds produced; checked once all seeds ran, so the fixed seeds keep covering them. */
    private static final Set<String> SEEN = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger FINISHED = new AtomicInteger();

    @TempDir
    Path dir;

    static LongStream seeds() {
        return LongStream.range(FIRST_SEED, FIRST_SEED + IMAGES);
    }

    /** What one seed builds, kept for the failure message. */
    private static final class Recipe {
        final List<String> lines = new ArrayList<>();

        void add(String s) {
            lines.add(s);
        }

        @Override
        public String toString() {
            return String.join("\n  ", lines);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void randomImageReadsLikeQemu(long seed) {
        Recipe recipe = new Recipe();
        try {
            run(seed, recipe);
            FINISHED.incrementAndGet();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed " + seed + " failed: " + e.getMessage() + "\nrecipe:\n  " + recipe, e);
        }
    }

    @AfterAll
    static void seedsCoverEveryFeature() {
        if (FINISHED.get() < IMAGES) {
            return; // a subset ran (or failed); nothing to say about coverage
        }
        List<String> wanted = new ArrayList<>(List.of("v2", "extended_l2", "extended_l2+backing", "zstd", "zlib",
                "backing raw", "backing qcow2", "backing qcow2 over raw", "compressed", "compressed noise",
                "partial last cluster", "write -z -u", "write -z", "discard", "snapshot", "no snapshots",
                "backing smaller", "backing larger"));
        for (int cs : CLUSTER_SIZES) {
            wanted.add("cluster_size=" + cs);
        }
        for (int bits : new int[] {1, 4, 8, 16, 32, 64}) {
            wanted.add("refcount_bits=" + bits);
        }
        wanted.removeAll(SEEN);
        assertTrue(wanted.isEmpty(), "the fixed seeds no longer produce: " + wanted);
    }

    private void run(long seed, Recipe recipe) {
        Random r = new Random(seed);
        int cs = CLUSTER_SIZES[r.nextInt(CLUSTER_SIZES.length)];
        boolean v2 = cs <= 65536 && r.nextInt(7) == 0;
        boolean extended = !v2 && cs >= 16384 && r.nextInt(2) == 0;
        int refBits = v2 ? 16 : new int[] {1, 4, 8, 16, 16, 32, 64, 64}[r.nextInt(8)];
        String compression = v2 || r.nextBoolean() ? "zlib" : "zstd";
        long size = cs == 2 * M ? (4 + r.nextInt(5)) * 2L * M : (1 + r.nextInt(16)) * (long) M;
        if (r.nextInt(3) == 0) {
            size += 512L * (1 + r.nextInt(cs >= 4096 ? cs / 512 - 1 : 7)); // a partial last cluster
        }
        boolean snapshots = refBits > 1;
        SEEN.add("cluster_size=" + cs);
        SEEN.add("refcount_bits=" + refBits);
        SEEN.add(v2 ? "v2" : compression);
        if (extended) {
            SEEN.add("extended_l2");
        }
        if (size % cs != 0) {
            SEEN.add("partial last cluster");
        }

        StringBuilder opts = new StringBuilder("cluster_size=" + cs);
        if (v2) {
            opts.append(",compat=0.10");
        } else {
            opts.append(",refcount_bits=").append(refBits).append(",compression_type=").append(compression);
            if (extended) {
                opts.append(",extended_l2=on");
            }
        }
        Path img = dir.resolve("img.qcow2");
        List<String> create = new ArrayList<>(List.of("create", "-q", "-f", "qcow2", "-o", opts.toString()));
        if (r.nextInt(5) < 2) {
            String[] backing = makeBacking(r, size, recipe);
            if (extended) {
                SEEN.add("extended_l2+backing");
            }
            create.addAll(List.of("-b", backing[0], "-F", backing[1]));
        }
        create.add(img.toString());
        create.add(Long.toString(size));
        recipe.add("qemu-img " + String.join(" ", create));
        Qemu.img(create.toArray(new String[0]));

        int maxCompressed = cs == 2 * M ? 2 : 4;
        Path[] noise = new Path[3];
        for (int i = 0; i < noise.length; i++) {
            noise[i] = Bytes.noiseFile(dir, "noise" + i, maxCompressed * cs, seed * 7 + i);
        }
        long clusters = (size + cs - 1) / cs;
        BitSet touched = new BitSet();
        List<String> batch = new ArrayList<>();
        int steps = 5 + r.nextInt(16);
        int taken = 0;
        boolean snapshotFailed = false;
        // QEMU 7.2 keeps appending compressed data to the host cluster it used last, even after a
        // discard or overwrite in the same process freed that cluster and it became metadata; it
        // then marks the image corrupt. So a compressed write that follows a compressed write and
        // then anything else in the same batch starts a new qemu-io.
        for (int step = 0; step < steps; step++) {
            int kind = r.nextInt(100);
            if (kind < 14 && snapshots) {
                flush(img, batch, recipe);
                snapshotFailed |= !snapshot(img, "snap" + step, refBits, recipe);
                taken++;
                continue;
            }
            long[] range = range(r, size, cs);
            long off = range[0];
            long len = range[1];
            String cmd;
            if (kind >= 78 && compressedThenOther(batch)) {
                flush(img, batch, recipe);
            }
            if (kind < 50) {
                cmd = "write -P " + (1 + r.nextInt(254)) + " " + off + " " + len;
                touch(touched, off, len, cs);
            } else if (kind < 64) {
                cmd = "write -z" + (r.nextBoolean() ? " -u " : " ") + off + " " + len;
                touch(touched, off, len, cs);
            } else if (kind < 78) {
                cmd = "discard " + off + " " + len;
            } else {
                // Compressed: whole clusters nothing was ever written to (qemu-io refuses others);
                // the last cluster may be partial.
                long first = r.nextLong(clusters);
                int n = 1 + r.nextInt(maxCompressed);
                long end = Math.min(clusters, first + n);
                int clash = touched.nextSetBit((int) first);
                if (clash >= 0 && clash < end) {
                    continue; // no fresh clusters here; the step is spent
                }
                touched.set((int) first, (int) end);
                long cOff = first * cs;
                long cLen = Math.min(size, end * cs) - cOff;
                // 1-bit refcounts cannot count the compressed clusters sharing a host cluster.
                String w = refBits > 1 ? "write -c" : "write";
                cmd = r.nextBoolean() ? w + " -P " + (1 + r.nextInt(254)) + " " + cOff + " " + cLen
                        : w + " -s " + noise[r.nextInt(noise.length)] + " " + cOff + " " + cLen;
            }
            batch.add(cmd);
            SEEN.add(cmd.startsWith("write -c -s") ? "compressed noise" : cmd.startsWith("write -c") ? "compressed"
                    : cmd.startsWith("write -z -u") ? "write -z -u" : cmd.startsWith("write -z") ? "write -z"
                    : cmd.startsWith("discard") ? "discard" : "write");
        }
        flush(img, batch, recipe);
        if (snapshots && taken == 0) {
            snapshotFailed |= !snapshot(img, "final", refBits, recipe);
            Qemu.io(img, "write -P 0xee " + (size / 3) + " 4097");
            recipe.add("qemu-io: write -P 0xee " + (size / 3) + " 4097");
        }
        SEEN.add(snapshots ? "snapshot" : "no snapshots");
        Processes.Output check = Qemu.run(List.of("qemu-img", "check", img.toString()));
        assertTrue(check.exitCode() == 0 || (snapshotFailed && check.exitCode() == 3),
                "qemu-img check: " + check.stdout() + check.stderr());

        int[] chunks = {Oracle.CHUNKS[r.nextInt(Oracle.CHUNKS.length)], 1 + r.nextInt(300_000)};
        Oracle.assertImageMatchesQemu(Ours::open, img, dir, chunks, 24, seed);
    }

    /** Makes a raw or qcow2 backing file (sometimes itself over a raw file); returns name and format. */
    private String[] makeBacking(Random r, long topSize, Recipe recipe) {
        long size = Math.max(512, (topSize / 512 + r.nextInt(4096) - 2048) * 512);
        if (r.nextBoolean()) {
            byte[] b = Bytes.noise((int) size - r.nextInt(512), r.nextLong());
            try {
                Files.write(dir.resolve("base.raw"), b);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            recipe.add("raw backing base.raw of " + b.length + " bytes");
            SEEN.add("backing raw");
            SEEN.add(b.length < topSize ? "backing smaller" : "backing larger");
            return new String[] {"base.raw", "raw"};
        }
        int cs = CLUSTER_SIZES[r.nextInt(CLUSTER_SIZES.length - 1)];
        Path base = dir.resolve("base.qcow2");
        List<String> create = new ArrayList<>(List.of("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cs));
        if (r.nextInt(3) == 0) {
            byte[] b = Bytes.noise((int) Math.max(512, size / 2), r.nextLong());
            try {
                Files.write(dir.resolve("under.raw"), b);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            create.addAll(List.of("-b", "under.raw", "-F", "raw"));
            recipe.add("raw file under the backing: under.raw of " + b.length + " bytes");
            SEEN.add("backing qcow2 over raw");
        }
        create.add(base.toString());
        create.add(Long.toString(size));
        Qemu.img(create.toArray(new String[0]));
        recipe.add("qemu-img " + String.join(" ", create));
        List<String> writes = new ArrayList<>();
        for (int i = 0, n = 1 + r.nextInt(5); i < n; i++) {
            long[] range = range(r, size, cs);
            writes.add((r.nextInt(4) == 0 ? "write -z " : "write -P " + (1 + r.nextInt(254)) + " ") + range[0] + " "
                    + range[1]);
        }
        Qemu.io(base, writes.toArray(new String[0]));
        recipe.add("qemu-io base.qcow2: " + String.join("; ", writes));
        SEEN.add("backing qcow2");
        SEEN.add(size < topSize ? "backing smaller" : "backing larger");
        return new String[] {"base.qcow2", "qcow2"};
    }

    /** A random range inside the disk: byte-exact or cluster-aligned, short or long. */
    private static long[] range(Random r, long size, int cs) {
        long off;
        long len;
        switch (r.nextInt(3)) {
            case 0 -> { // anywhere, short
                off = r.nextLong(size);
                len = 1 + r.nextInt(Math.max(1, Math.min(3 * cs, 200_000)));
            }
            case 1 -> { // cluster-aligned
                off = r.nextLong((size + cs - 1) / cs) * cs;
                len = (long) cs * (1 + r.nextInt(4));
            }
            default -> { // long
                off = r.nextLong(size);
                len = 1 + r.nextLong(Math.max(1, size / 3));
            }
        }
        off = Math.min(off, size - 1);
        len = Math.min(len, size - off);
        return new long[] {off, len};
    }

    private static boolean compressedThenOther(List<String> batch) {
        boolean compressed = false;
        for (String c : batch) {
            if (c.startsWith("write -c")) {
                compressed = true;
            } else if (compressed) {
                return true;
            }
        }
        return false;
    }

    private static void touch(BitSet touched, long off, long len, int cs) {
        touched.set((int) (off / cs), (int) ((off + len - 1) / cs) + 1);
    }

    private static void flush(Path img, List<String> batch, Recipe recipe) {
        if (batch.isEmpty()) {
            return;
        }
        recipe.add("qemu-io: " + String.join("; ", batch));
        Qemu.io(img, batch.toArray(new String[0]));
        batch.clear();
    }

    /**
     * Takes a snapshot. Narrow refcounts can overflow (QEMU then refuses with EINVAL and leaks a
     * few clusters); returns false in that case, which is accepted only below 16 bits.
     */
    private static boolean snapshot(Path img, String name, int refBits, Recipe recipe) {
        Processes.Output res = Qemu.trySnapshot(img, name);
        recipe.add("qemu-img snapshot -c " + name + (res.exitCode() == 0 ? "" : " -> refused: " + res.stderr().trim()));
        if (res.exitCode() != 0) {
            assertTrue(refBits < 16 && res.stderr().contains("Invalid argument"),
                    "qemu-img snapshot -c failed: " + res.stderr());
            return false;
        }
        return true;
    }
}
