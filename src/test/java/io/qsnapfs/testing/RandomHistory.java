package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A qcow2 image with a seeded random history, made with QEMU's tools: a random shape (cluster size
 * 512 B to 2 MiB, refcount width, compression type, version, extended L2, random size, optionally a
 * qcow2 or raw backing file, itself sometimes over a raw file), then random steps: qemu-io pattern
 * writes, zero writes with and without unmap, discards, compressed writes, snapshots taken with
 * {@code qemu-img snapshot -c}, and with {@link Options} also resizes, snapshot deletes and
 * snapshots taken and deleted by another {@link SnapshotTool} (the code under test, given by the
 * test; this layer never uses it itself).
 *
 * <p>It keeps a model of what each step touched: the guest clusters written, zeroed, discarded or
 * crossed by a resize, per epoch (the time between two snapshots), so a test can ask which
 * clusters changed between two snapshots ({@link #touchedBetween}). Every command is in the
 * {@link Recipe}. The same seed, options and directory give the same image.
 */
public final class RandomHistory {
    public static final int[] CLUSTER_SIZES = {512, 1024, 4096, 16384, 65536, 262144, 2 << 20};
    private static final int M = 1 << 20;

    /** Takes and deletes snapshots: QEMU's {@code qemu-img snapshot}, or the code under test. */
    public interface SnapshotTool {
        /** How the recipe names the tool's command, e.g. {@code qemu-img snapshot}. */
        String command();

        /** Creates snapshot {@code name}; returns null, or the reason it refused (refcounts full). */
        String create(Path image, String name);

        /** Deletes the snapshot with this ID or name, which must succeed. */
        void delete(Path image, String idOrName);

        /** The recipe's line for {@link #create}. */
        default String createLine(String name) {
            return command() + " -c " + name;
        }

        /** The recipe's line for {@link #delete}. */
        default String deleteLine(String idOrName) {
            return command() + " -d " + idOrName;
        }
    }

    /** QEMU's {@code qemu-img snapshot -c/-d}, without flushes. */
    public static final SnapshotTool QEMU = new SnapshotTool() {
        @Override
        public String command() {
            return "qemu-img snapshot";
        }

        @Override
        public String create(Path image, String name) {
            Processes.Output res = Qemu.trySnapshot(image, name);
            return res.exitCode() == 0 ? null : res.stderr().trim();
        }

        @Override
        public void delete(Path image, String idOrName) {
            Qemu.deleteSnapshot(image, idOrName);
        }
    };

    /**
     * Which steps a history takes: {@code minSteps + random(extraSteps)} steps, of which about
     * {@code snapshotPercent} in a hundred take (or, with {@code deletes}, sometimes delete) a
     * snapshot; with {@code resizes} about one in ten resizes the disk (version 3 images only: QEMU
     * refuses to resize a version 2 image with snapshots, or to grow one over a backing file);
     * with {@code ours} non-null, half the snapshot steps use it instead of {@code qemu-img}; with
     * {@code recompress}, compressed writes may also go to clusters that a discard or an unmapping
     * zero write freed whole since they were last written (so a guest cluster can be compressed
     * twice, with two different descriptors); refcounts narrower than {@code minRefcountBits} are
     * drawn as that width (1-bit refcounts hold no snapshot, and narrow ones overflow when QEMU
     * reverts a copy to read a snapshot at its own size).
     */
    public record Options(int minSteps, int extraSteps, int snapshotPercent, boolean resizes, boolean deletes,
            SnapshotTool ours, boolean recompress, int minRefcountBits) {
        /** What {@code RandomDifferentialTest} builds: writes and {@code qemu-img snapshot -c}. */
        public static final Options READING = new Options(5, 16, 14, false, false, null, false, 1);
    }

    /** A snapshot the history took and kept: its name, disk size then, and the epoch that followed it. */
    public record Snapshot(String name, long size, int epoch, String by) {
        @Override
        public String toString() {
            return name + " (size " + size + ", by " + by + ")";
        }
    }

    private final Random r;
    private final long seed;
    private final Path dir;
    private final Options options;
    private final Set<String> seen;
    private final Recipe recipe;

    private int clusterSize;
    private boolean v2;
    private boolean extended;
    private boolean backing;
    private int refcountBits;
    private Path image;
    private long size;
    /**
     * Clusters written (not only discarded) and, with {@code recompress}, not freed whole since:
     * QEMU refuses a compressed write to a cluster with a host offset.
     */
    private final BitSet written = new BitSet();
    /** Clusters a compressed write went to. */
    private final BitSet compressed = new BitSet();
    /** Clusters each epoch touched; the last one is the current epoch. */
    private final List<BitSet> epochs = new ArrayList<>(List.of(new BitSet()));
    private final List<Snapshot> live = new ArrayList<>();
    /** A {@code qemu-img snapshot -c} refused (and leaked a few clusters). */
    private boolean qemuRefused;
    private boolean refused;

    private RandomHistory(Random r, long seed, Path dir, Options options, Set<String> seen, Recipe recipe) {
        this.r = r;
        this.seed = seed;
        this.dir = dir;
        this.options = options;
        this.seen = seen;
        this.recipe = recipe;
    }

    /**
     * Builds {@code dir/img.qcow2} (and its backing files) from {@code r}, which the caller made
     * from {@code seed} and may keep drawing from; adds what the seed produced to {@code seen} and
     * every command to {@code recipe}. Ends with {@code qemu-img check}, which must find the image
     * clean (leaks allowed only after a refused snapshot).
     */
    public static RandomHistory build(Random r, long seed, Path dir, Options options, Set<String> seen,
            Recipe recipe) {
        RandomHistory h = new RandomHistory(r, seed, dir, options, seen, recipe);
        h.run();
        return h;
    }

    public Path image() {
        return image;
    }

    public int clusterSize() {
        return clusterSize;
    }

    /** The disk size now. */
    public long size() {
        return size;
    }

    /** The snapshots taken and not deleted, oldest first. */
    public List<Snapshot> snapshots() {
        return List.copyOf(live);
    }

    /**
     * The clusters touched after snapshot {@code older} was taken and before {@code newer} was
     * ({@code newer} null: until now, for the active layer).
     */
    public BitSet touchedBetween(Snapshot older, Snapshot newer) {
        BitSet out = new BitSet();
        int end = newer == null ? epochs.size() : newer.epoch();
        for (int i = older.epoch(); i < end; i++) {
            out.or(epochs.get(i));
        }
        return out;
    }

    private void run() {
        int cs = CLUSTER_SIZES[r.nextInt(CLUSTER_SIZES.length)];
        v2 = cs <= 65536 && r.nextInt(7) == 0;
        extended = !v2 && cs >= 16384 && r.nextInt(2) == 0;
        int[] widths = {1, 4, 8, 16, 16, 32, 64, 64};
        refcountBits = v2 ? 16 : Math.max(options.minRefcountBits(), widths[r.nextInt(widths.length)]);
        String compression = v2 || r.nextBoolean() ? "zlib" : "zstd";
        size = cs == 2 * M ? (4 + r.nextInt(5)) * 2L * M : (1 + r.nextInt(16)) * (long) M;
        if (r.nextInt(3) == 0) {
            size += 512L * (1 + r.nextInt(cs >= 4096 ? cs / 512 - 1 : 7)); // a partial last cluster
        }
        clusterSize = cs;
        long initialSize = size;
        boolean snapshots = refcountBits > 1;
        seen.add("cluster_size=" + cs);
        seen.add("refcount_bits=" + refcountBits);
        seen.add(v2 ? "v2" : compression);
        if (extended) {
            seen.add("extended_l2");
        }
        if (size % cs != 0) {
            seen.add("partial last cluster");
        }

        StringBuilder opts = new StringBuilder("cluster_size=" + cs);
        if (v2) {
            opts.append(",compat=0.10");
        } else {
            opts.append(",refcount_bits=").append(refcountBits).append(",compression_type=").append(compression);
            if (extended) {
                opts.append(",extended_l2=on");
            }
        }
        image = dir.resolve("img.qcow2");
        List<String> create = new ArrayList<>(List.of("create", "-q", "-f", "qcow2", "-o", opts.toString()));
        if (r.nextInt(5) < 2) {
            String[] made = makeBacking(size);
            backing = true;
            if (extended) {
                seen.add("extended_l2+backing");
            }
            create.addAll(List.of("-b", made[0], "-F", made[1]));
        }
        create.add(image.toString());
        create.add(Long.toString(size));
        recipe.add("qemu-img " + String.join(" ", create));
        Qemu.img(create.toArray(new String[0]));

        int maxCompressed = cs == 2 * M ? 2 : 4;
        Path[] noise = new Path[3];
        for (int i = 0; i < noise.length; i++) {
            noise[i] = Bytes.noiseFile(dir, "noise" + i, maxCompressed * cs, seed * 7 + i);
        }
        List<String> batch = new ArrayList<>();
        int steps = options.minSteps() + r.nextInt(options.extraSteps());
        // QEMU 7.2 keeps appending compressed data to the host cluster it used last, even after a
        // discard or overwrite in the same process freed that cluster and it became metadata; it
        // then marks the image corrupt. So a compressed write that follows a compressed write and
        // then anything else in the same batch starts a new qemu-io.
        for (int step = 0; step < steps; step++) {
            if (options.resizes() && !v2 && r.nextInt(10) == 0) {
                flush(batch);
                resize(initialSize);
                continue;
            }
            int kind = r.nextInt(100);
            if (kind < options.snapshotPercent() && snapshots) {
                flush(batch);
                if (options.deletes() && !live.isEmpty() && r.nextInt(3) == 0) {
                    delete(live.get(r.nextInt(live.size())));
                } else {
                    take("snap" + step);
                }
                continue;
            }
            long[] range = range(size, cs);
            long off = range[0];
            long len = range[1];
            String cmd;
            if (kind >= 78 && compressedThenOther(batch)) {
                flush(batch);
            }
            if (kind < 50) {
                cmd = "write -P " + (1 + r.nextInt(254)) + " " + off + " " + len;
                touch(off, len, true);
            } else if (kind < 64) {
                boolean unmap = r.nextBoolean();
                cmd = "write -z" + (unmap ? " -u " : " ") + off + " " + len;
                touch(off, len, true);
                if (unmap && !v2) { // version 2 has no zero clusters: QEMU writes zeros there
                    freed(off, len);
                }
            } else if (kind < 78) {
                long[] again = options.recompress() ? compressedRange() : null;
                if (again != null) {
                    off = again[0];
                    len = again[1];
                }
                cmd = "discard " + off + " " + len;
                touch(off, len, false);
                freed(off, len);
            } else {
                // Compressed: whole clusters nothing was ever written to (qemu-io refuses others);
                // the last cluster may be partial.
                long clusters = (size + cs - 1) / cs;
                long first = options.recompress() ? compressedAgain(clusters) : -1;
                if (first < 0) {
                    first = r.nextLong(clusters);
                }
                int n = 1 + r.nextInt(maxCompressed);
                long end = Math.min(clusters, first + n);
                if (end == clusters && size % cs != 0 && partialClustersMustNotBeCompressed()) {
                    end--; // not the partial last cluster
                }
                if (end <= first) {
                    continue;
                }
                int clash = written.nextSetBit((int) first);
                if (clash >= 0 && clash < end) {
                    continue; // no fresh clusters here; the step is spent
                }
                long cOff = first * cs;
                long cLen = Math.min(size, end * cs) - cOff;
                touch(cOff, cLen, true);
                if (compressed.get((int) first, (int) end).cardinality() > 0) {
                    seen.add("a cluster compressed twice");
                }
                compressed.set((int) first, (int) end);
                // 1-bit refcounts cannot count the compressed clusters sharing a host cluster.
                String w = refcountBits > 1 ? "write -c" : "write";
                cmd = r.nextBoolean() ? w + " -P " + (1 + r.nextInt(254)) + " " + cOff + " " + cLen
                        : w + " -s " + noise[r.nextInt(noise.length)] + " " + cOff + " " + cLen;
            }
            batch.add(cmd);
            seen.add(cmd.startsWith("write -c -s") ? "compressed noise" : cmd.startsWith("write -c") ? "compressed"
                    : cmd.startsWith("write -z -u") ? "write -z -u" : cmd.startsWith("write -z") ? "write -z"
                    : cmd.startsWith("discard") ? "discard" : "write");
        }
        flush(batch);
        if (snapshots && live.isEmpty() && !refused) {
            take("final");
            long off = size / 3;
            long len = Math.min(4097, size - off);
            String cmd = "write -P 0xee " + off + " " + len;
            Qemu.io(image, cmd);
            touch(off, len, true);
            recipe.add("qemu-io: " + cmd);
        }
        seen.add(snapshots ? "snapshot" : "no snapshots");
        Processes.Output check = Qemu.run(List.of("qemu-img", "check", image.toString()));
        assertTrue(check.exitCode() == 0 || (qemuRefused && check.exitCode() == 3),
                "qemu-img check: " + check.stdout() + check.stderr());
    }

    /** Makes a raw or qcow2 backing file (sometimes itself over a raw file); returns name and format. */
    private String[] makeBacking(long topSize) {
        long size = Math.max(512, (topSize / 512 + r.nextInt(4096) - 2048) * 512);
        if (r.nextBoolean()) {
            byte[] b = Bytes.noise((int) size - r.nextInt(512), r.nextLong());
            write(dir.resolve("base.raw"), b);
            recipe.add("raw backing base.raw of " + b.length + " bytes");
            seen.add("backing raw");
            seen.add(b.length < topSize ? "backing smaller" : "backing larger");
            return new String[] {"base.raw", "raw"};
        }
        int cs = CLUSTER_SIZES[r.nextInt(CLUSTER_SIZES.length - 1)];
        Path base = dir.resolve("base.qcow2");
        List<String> create = new ArrayList<>(List.of("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cs));
        if (r.nextInt(3) == 0) {
            byte[] b = Bytes.noise((int) Math.max(512, size / 2), r.nextLong());
            write(dir.resolve("under.raw"), b);
            create.addAll(List.of("-b", "under.raw", "-F", "raw"));
            recipe.add("raw file under the backing: under.raw of " + b.length + " bytes");
            seen.add("backing qcow2 over raw");
        }
        create.add(base.toString());
        create.add(Long.toString(size));
        Qemu.img(create.toArray(new String[0]));
        recipe.add("qemu-img " + String.join(" ", create));
        List<String> writes = new ArrayList<>();
        for (int i = 0, n = 1 + r.nextInt(5); i < n; i++) {
            long[] range = range(size, cs);
            writes.add((r.nextInt(4) == 0 ? "write -z " : "write -P " + (1 + r.nextInt(254)) + " ") + range[0] + " "
                    + range[1]);
        }
        Qemu.io(base, writes.toArray(new String[0]));
        recipe.add("qemu-io base.qcow2: " + String.join("; ", writes));
        seen.add("backing qcow2");
        seen.add(size < topSize ? "backing smaller" : "backing larger");
        return new String[] {"base.qcow2", "qcow2"};
    }

    private static void write(Path file, byte[] b) {
        try {
            Files.write(file, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A random range inside the disk: byte-exact or cluster-aligned, short or long. */
    private long[] range(long size, int cs) {
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

    /**
     * Resizes the disk with {@code qemu-img resize --shrink} to a random size up to twice the first
     * one, cluster-aligned or not; the range between the old and the new size is touched.
     */
    private void resize(long initialSize) {
        long newSize = r.nextBoolean() ? clusterSize * (1 + r.nextLong(Math.max(1, 2 * initialSize / clusterSize)))
                : 512 * (1 + r.nextLong(2 * initialSize / 512));
        if (newSize == size) {
            return;
        }
        if (partialClustersMustNotBeCompressed() && newSize % clusterSize != 0
                && compressed.get((int) (newSize / clusterSize))) {
            return; // the new end would fall inside a cluster that may be compressed
        }
        boolean partial = size % clusterSize != 0;
        recipe.add("qemu-img resize --shrink " + newSize + " (from " + size + ")");
        Qemu.resize(image, Long.toString(newSize));
        if (newSize > size && partial) {
            // Over a backing file QEMU writes zeros from the old end to the end of its cluster,
            // which allocates that cluster.
            written.set((int) (size / clusterSize));
        }
        long low = Math.min(size, newSize);
        touch(low, Math.max(size, newSize) - low, false);
        seen.add(newSize > size ? "resize grow" : "resize shrink");
        if (newSize % clusterSize != 0) {
            seen.add("resize to a partial cluster");
        }
        size = newSize;
    }

    /**
     * True when the disk must never end inside a compressed cluster: in an image with extended L2
     * entries over a backing file, with resizes. Growing such a disk, which {@code qemu-img resize}
     * and {@code snapshot -a} do, zeroes the rest of that cluster, and QEMU 7.2 refuses to zero
     * part of a compressed cluster with extended L2 entries ("Failed to zero out new clusters:
     * Operation not supported"). So compressed writes leave out a partial last cluster, and a
     * resize never ends inside a cluster once compressed.
     */
    private boolean partialClustersMustNotBeCompressed() {
        return options.resizes() && extended && backing;
    }

    /** Takes snapshot {@code name} with QEMU, or with the other tool when there is one and the seed says so. */
    private void take(String name) {
        SnapshotTool tool = options.ours() != null && r.nextBoolean() ? options.ours() : QEMU;
        String refusal = tool.create(image, name);
        recipe.add(tool.createLine(name) + (refusal == null ? "" : " -> refused: " + refusal));
        if (refusal != null) {
            // Narrow refcounts can overflow; QEMU then refuses with EINVAL and leaks a few clusters.
            assertTrue(refcountBits < 16 && (tool != QEMU || refusal.contains("Invalid argument")),
                    tool.createLine(name) + " failed: " + refusal);
            refused = true;
            qemuRefused |= tool == QEMU;
            return;
        }
        live.add(new Snapshot(name, size, epochs.size(), tool.command()));
        epochs.add(new BitSet());
        if (tool != QEMU) {
            seen.add("create by " + tool.command());
        }
    }

    private void delete(Snapshot s) {
        SnapshotTool tool = options.ours() != null && r.nextBoolean() ? options.ours() : QEMU;
        recipe.add(tool.deleteLine(s.name()));
        tool.delete(image, s.name());
        live.remove(s);
        seen.add("delete by " + tool.command());
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

    /** Marks the clusters of {@code [off, off + len)} touched in this epoch, and written if {@code write}. */
    private void touch(long off, long len, boolean write) {
        int first = (int) (off / clusterSize);
        int end = (int) ((off + len - 1) / clusterSize) + 1;
        epochs.get(epochs.size() - 1).set(first, end);
        if (write) {
            written.set(first, end);
        }
    }

    /**
     * Half the time (when there is one), a range over whole clusters a compressed write went to,
     * inside the disk; else null.
     */
    private long[] compressedRange() {
        BitSet candidates = (BitSet) compressed.clone();
        long full = size / clusterSize;
        candidates.clear((int) full, Math.max((int) full, candidates.length()));
        if (candidates.isEmpty() || !r.nextBoolean()) {
            return null;
        }
        int pick = candidates.nextSetBit(0);
        for (int k = r.nextInt(candidates.cardinality()); k > 0; k--) {
            pick = candidates.nextSetBit(pick + 1);
        }
        long n = Math.min(1 + r.nextInt(3), full - pick);
        return new long[] {(long) pick * clusterSize, n * clusterSize};
    }

    /**
     * Half the time, a cluster below {@code clusters} that a compressed write went to and that was
     * freed whole since (so writing it compressed again gives it a new descriptor); else -1.
     */
    private long compressedAgain(long clusters) {
        BitSet again = (BitSet) compressed.clone();
        again.andNot(written);
        again.clear((int) clusters, Math.max((int) clusters, again.length()));
        if (again.isEmpty() || !r.nextBoolean()) {
            return -1;
        }
        int pick = again.nextSetBit(0);
        for (int k = r.nextInt(again.cardinality()); k > 0; k--) {
            pick = again.nextSetBit(pick + 1);
        }
        return pick;
    }

    /**
     * With {@code recompress}, marks the clusters wholly inside {@code [off, off + len)} fresh for
     * compressed writes: QEMU frees their host clusters (a partial cluster is left alone), except
     * in a version 2 image over a backing file.
     */
    private void freed(long off, long len) {
        // A version 2 image over a backing file ignores discards: it could not make them read zeros.
        if (options.recompress() && !(v2 && backing)) {
            long first = (off + clusterSize - 1) / clusterSize;
            long end = (off + len) / clusterSize;
            if (first < end) {
                written.clear((int) first, (int) end);
                seen.add("cluster freed for a compressed write");
            }
        }
    }

    private void flush(List<String> batch) {
        if (batch.isEmpty()) {
            return;
        }
        recipe.add("qemu-io: " + String.join("; ", batch));
        Qemu.io(image, batch.toArray(new String[0]));
        batch.clear();
    }
}
