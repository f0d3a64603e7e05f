package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu.Listed;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The write engine against QEMU on seeded random sequences: each step is a qemu-io write batch
 * (pattern, zero, unmapping zero, discard), a compressed write to clusters just discarded, one of
 * our create/delete/apply, one of {@code qemu-img snapshot -c/-d/-a}, or a {@code qemu-img resize}
 * (growing, or shrinking with {@code --shrink}). A model keeps, for each snapshot, the raw bytes
 * of the active layer right before it was taken. After every step {@code qemu-img check} must
 * find no error and no leak, {@code qemu-img snapshot -l}, our reader and our writer must list the
 * same IDs and names as the model, every snapshot must read back through {@code qemu-img convert}
 * as the model says, and the virtual size must be the model's. Create and delete must leave the
 * active layer as it was; apply must make it the snapshot, at the snapshot's size. A failure names
 * the image's seed, the step and everything done so far.
 */
class WriteDifferentialTest {
    private static final long FIRST_SEED = 4_000_004L;
    private static final int STEPS = 30;
    private static final int M = 1 << 20;

    /** One image's shape and the limits that keep its refcounts from overflowing. */
    record Shape(String label, int clusterSize, int refcountBits, boolean v2, String compression, boolean extendedL2,
            boolean backing, long size, int maxSnapshots, int maxCompressedWrites) {
        String options() {
            StringBuilder o = new StringBuilder("cluster_size=" + clusterSize + ",refcount_bits=" + refcountBits);
            o.append(v2 ? ",compat=0.10" : ",compression_type=" + compression);
            if (extendedL2) {
                o.append(",extended_l2=on");
            }
            return o.toString();
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /**
     * Every cluster size of the brief (512, 4K, 64K, 2M), every refcount width that can hold a
     * snapshot (2..64), v2 and v3, zlib and zstd compressed writes, extended L2, a backing file.
     * Narrow widths get few snapshots and no compressed writes (compressed clusters of pattern
     * data share one host cluster by the dozen, and every snapshot counts each of them again); an
     * apply adds the snapshot's references before it drops the active layer's, so 2-bit refcounts
     * (at most 3) hold one snapshot.
     */
    static Stream<Shape> shapes() {
        return Stream.of(
                new Shape("512 B clusters, 64-bit refcounts, zlib", 512, 64, false, "zlib", false, false, 2L * M, 8, 12),
                new Shape("4K clusters, 2-bit refcounts", 4096, 2, false, "zstd", false, false, 4L * M, 1, 0),
                new Shape("4K clusters, 4-bit refcounts", 4096, 4, false, "zlib", false, false, 4L * M, 4, 0),
                new Shape("64K clusters, 8-bit refcounts, zstd", 65536, 8, false, "zstd", false, false, 8L * M, 6, 8),
                new Shape("2M clusters, 16-bit refcounts, zlib", 2 * M, 16, false, "zlib", false, false, 10L * M, 5, 6),
                new Shape("64K clusters, v2", 65536, 16, true, "zlib", false, false, 8L * M, 8, 10),
                new Shape("64K clusters, 32-bit refcounts, zstd, extended L2", 65536, 32, false, "zstd", true, false,
                        8L * M, 8, 10),
                new Shape("4K clusters, 64-bit refcounts, zstd, qcow2 backing file", 4096, 64, false, "zstd", false, true,
                        4L * M, 8, 12));
    }

    /** Things the fixed seeds must keep doing; checked once every shape ran. */
    private static final Set<String> SEEN = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger FINISHED = new AtomicInteger();
    private static final AtomicInteger STEPS_RUN = new AtomicInteger();

    @TempDir
    Path dir;

    /** A snapshot as the model knows it. */
    private static final class Snap {
        final String id;
        final String name;
        final byte[] bytes;

        Snap(String id, String name, byte[] bytes) {
            this.id = id;
            this.name = name;
            this.bytes = bytes;
        }

        Listed listed() {
            return new Listed(id, name);
        }
    }

    /** One image under test: the file, the model, and what was done to it. */
    private final class Run {
        final Shape shape;
        final long seed;
        final Random r;
        final Path img;
        final List<Snap> snaps = new ArrayList<>();
        final List<String> recipe = new ArrayList<>();
        final Path noise;
        long size;
        int compressedWrites;
        int step;

        Run(Shape shape, long seed) {
            this.shape = shape;
            this.seed = seed;
            this.r = new Random(seed);
            this.img = dir.resolve("img.qcow2");
            this.size = shape.size();
            this.noise = Bytes.noiseFile(dir, "noise", 2 * shape.clusterSize(), seed);
        }

        void note(String s) {
            recipe.add("step " + step + ": " + s);
        }

        String context() {
            return "shape [" + shape + "], seed " + seed + ", step " + step + "\nrecipe:\n  " + String.join("\n  ", recipe);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void randomSequenceStaysCleanAndReadsLikeTheModel(Shape shape) {
        long seed = FIRST_SEED + shapes().toList().indexOf(shape);
        Run run = new Run(shape, seed);
        try {
            setUp(run);
            verify(run);
            for (run.step = 1; run.step <= STEPS; run.step++) {
                step(run);
                verify(run);
                STEPS_RUN.incrementAndGet();
            }
            FINISHED.incrementAndGet();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + run.context(), e);
        }
    }

    @AfterAll
    static void seedsCoverEverything() {
        if (FINISHED.get() < shapes().count()) {
            return; // a subset ran or something failed: nothing to say about coverage
        }
        assertTrue(STEPS_RUN.get() >= 200, "only " + STEPS_RUN.get() + " steps");
        List<String> wanted = new ArrayList<>(List.of("io", "compressed zlib", "compressed zstd", "compressed v2",
                "our create", "our delete by id", "our delete by name", "our apply by id", "our apply by name",
                "qemu create", "qemu delete", "qemu apply", "grow", "shrink",
                "our apply to a larger size", "our apply to a smaller size", "our create after qemu",
                "our delete of a qemu snapshot", "qemu delete of our snapshot", "qemu apply of our snapshot"));
        wanted.removeAll(SEEN);
        assertTrue(wanted.isEmpty(), "the fixed seeds no longer produce: " + wanted + " (saw " + SEEN + ")");
    }

    private void setUp(Run run) {
        Shape s = run.shape;
        List<String> create = new ArrayList<>(List.of("create", "-q", "-f", "qcow2", "-o", s.options()));
        if (s.backing()) {
            Path base = dir.resolve("base.qcow2");
            Qemu.create(base, Long.toString(s.size()), "cluster_size=65536");
            Qemu.io(base, "write -P 0x5a 0 " + s.size() / 2, "write -P 0xa5 " + (s.size() / 2 + 4096) + " 100000");
            run.recipe.add("base.qcow2: write -P 0x5a 0 " + s.size() / 2 + "; write -P 0xa5 " + (s.size() / 2 + 4096)
                    + " 100000");
            create.addAll(List.of("-b", "base.qcow2", "-F", "qcow2"));
        }
        create.add(run.img.toString());
        create.add(Long.toString(s.size()));
        Qemu.img(create.toArray(new String[0]));
        run.recipe.add("qemu-img " + String.join(" ", create));
        // Some data to start with, so the first snapshots share clusters.
        ioBatch(run);
    }

    private void step(Run run) {
        int kind = run.r.nextInt(100);
        int n = run.snaps.size();
        boolean canSnap = n < run.shape.maxSnapshots();
        if (kind < 26) {
            ioBatch(run);
        } else if (kind < 34 && run.compressedWrites < run.shape.maxCompressedWrites()) {
            compressedWrite(run);
        } else if (kind < 50 && canSnap) {
            ourCreate(run);
        } else if (kind < 60 && n > 0) {
            ourDelete(run);
        } else if (kind < 71 && n > 0) {
            ourApply(run);
        } else if (kind < 78 && canSnap) {
            qemuCreate(run);
        } else if (kind < 83 && n > 0) {
            qemuDelete(run);
        } else if (kind < 88 && n > 0) {
            qemuApply(run);
        } else if (kind < 94 && (!run.shape.v2() || n == 0)) {
            resize(run, true);
        } else if (kind >= 94 && !run.shape.v2()) {
            resize(run, false);
        } else {
            ioBatch(run);
        }
    }

    // ---- steps ------------------------------------------------------------------------------

    private void ioBatch(Run run) {
        Random r = run.r;
        int cs = run.shape.clusterSize();
        List<String> cmds = new ArrayList<>();
        for (int i = 0, count = 1 + r.nextInt(3); i < count; i++) {
            long[] range = range(r, run.size, cs);
            cmds.add(switch (r.nextInt(6)) {
                case 0, 1, 2 -> "write -P " + (1 + r.nextInt(254)) + " " + range[0] + " " + range[1];
                case 3 -> "write -z " + range[0] + " " + range[1];
                case 4 -> "write -z -u " + range[0] + " " + range[1];
                default -> "discard " + range[0] + " " + range[1];
            });
        }
        Qemu.io(run.img, cmds.toArray(new String[0]));
        run.note("qemu-io " + String.join("; ", cmds));
        SEEN.add("io");
    }

    /**
     * Discards whole clusters and writes them compressed, in a qemu-io of its own: qemu-io writes
     * compressed data only to clusters without a host cluster, and QEMU 7.2 may append compressed
     * data to a host cluster that something else in the same process freed.
     */
    private void compressedWrite(Run run) {
        Random r = run.r;
        int cs = run.shape.clusterSize();
        long clusters = run.size / cs;
        int count = (int) Math.min(clusters, 1 + r.nextInt(2));
        long first = r.nextLong(clusters - count + 1);
        long off = first * cs;
        long len = (long) count * cs;
        String data = r.nextInt(3) == 0 && count <= 2 ? "-s " + run.noise : "-P " + (1 + r.nextInt(254));
        String discard = "discard " + off + " " + len;
        String write = "write -c " + data + " " + off + " " + len;
        Qemu.io(run.img, discard, write);
        run.compressedWrites++;
        run.note("qemu-io " + discard + "; " + write);
        SEEN.add(run.shape.v2() ? "compressed v2" : "compressed " + run.shape.compression());
    }

    private void ourCreate(Run run) {
        String name = "s" + run.step;
        byte[] before = active(run);
        String expectedId = Long.toString(run.snaps.stream().mapToLong(s -> numericId(s.id)).max().orElse(0) + 1);
        run.note("ours: create " + name);
        SnapshotEntry e;
        try (WritableImage w = WritableImage.open(run.img)) {
            e = w.create(name);
            assertEquals(name, e.nameString(), "name of the new entry");
            assertEquals(expectedId, e.idString(), "ID of the new entry (largest numeric ID + 1)");
            assertEquals(run.size, e.diskSize(), "disk size of the new entry");
            run.snaps.add(new Snap(e.idString(), name, before));
            assertSameList(run, listOf(w.snapshots()), "WritableImage.snapshots() after create");
        }
        Bytes.assertSameBytes(before, active(run), "active layer after our create");
        SEEN.add("our create");
        if (run.recipe.stream().anyMatch(l -> l.contains("qemu-img snapshot -c"))) {
            SEEN.add("our create after qemu");
        }
    }

    private void ourDelete(Run run) {
        Snap victim = run.snaps.get(run.r.nextInt(run.snaps.size()));
        boolean byId = run.r.nextBoolean() || victim.name.equals(victim.id);
        String key = byId ? victim.id : victim.name;
        byte[] before = active(run);
        run.note("ours: delete " + key + " (ID " + victim.id + ", " + victim.name + ")");
        try (WritableImage w = WritableImage.open(run.img)) {
            SnapshotEntry e = w.delete(key);
            assertEquals(victim.id, e.idString(), "ID of the deleted entry");
            run.snaps.remove(victim);
            assertSameList(run, listOf(w.snapshots()), "WritableImage.snapshots() after delete");
        }
        Bytes.assertSameBytes(before, active(run), "active layer after our delete");
        SEEN.add(byId ? "our delete by id" : "our delete by name");
        if (createdByQemu(run, victim)) {
            SEEN.add("our delete of a qemu snapshot");
        }
    }

    private void ourApply(Run run) {
        Snap target = run.snaps.get(run.r.nextInt(run.snaps.size()));
        boolean byId = run.r.nextBoolean();
        String key = byId ? target.id : target.name;
        run.note("ours: apply " + key + " (ID " + target.id + ", " + target.name + ", " + target.bytes.length
                + " bytes; image now " + run.size + ")");
        try (WritableImage w = WritableImage.open(run.img)) {
            SnapshotEntry e = w.apply(key);
            assertEquals(target.id, e.idString(), "ID of the applied entry");
            assertSameList(run, listOf(w.snapshots()), "WritableImage.snapshots() after apply");
        }
        if (target.bytes.length > run.size) {
            SEEN.add("our apply to a larger size");
        } else if (target.bytes.length < run.size) {
            SEEN.add("our apply to a smaller size");
        }
        run.size = target.bytes.length;
        Bytes.assertSameBytes(target.bytes, active(run), "active layer after our apply of " + target.id);
        SEEN.add(byId ? "our apply by id" : "our apply by name");
    }

    private void qemuCreate(Run run) {
        String name = "q" + run.step;
        byte[] before = active(run);
        run.note("qemu-img snapshot -c " + name);
        Qemu.snapshot(run.img, name);
        List<Listed> listed = Qemu.snapshots(run.img);
        Listed last = listed.get(listed.size() - 1);
        assertEquals(name, last.name(), "qemu-img appends its snapshot: " + listed);
        run.snaps.add(new Snap(last.id(), name, before));
        SEEN.add("qemu create");
    }

    private void qemuDelete(Run run) {
        Snap victim = run.snaps.get(run.r.nextInt(run.snaps.size()));
        // qemu-img 7.2 finds the snapshot to delete by name only.
        run.note("qemu-img snapshot -d " + victim.name + " (ID " + victim.id + ")");
        Qemu.deleteSnapshot(run.img, victim.name);
        run.snaps.remove(victim);
        SEEN.add("qemu delete");
        if (!createdByQemu(run, victim)) {
            SEEN.add("qemu delete of our snapshot");
        }
    }

    private void qemuApply(Run run) {
        Snap target = run.snaps.get(run.r.nextInt(run.snaps.size()));
        run.note("qemu-img snapshot -a " + target.id + " (" + target.name + ")");
        Qemu.applySnapshot(run.img, target.id);
        run.size = target.bytes.length;
        Bytes.assertSameBytes(target.bytes, active(run), "active layer after qemu-img snapshot -a " + target.id);
        SEEN.add("qemu apply");
        if (!createdByQemu(run, target)) {
            SEEN.add("qemu apply of our snapshot");
        }
    }

    private void resize(Run run, boolean grow) {
        int cs = run.shape.clusterSize();
        long clusters = run.size / cs;
        long newSize;
        if (grow) {
            long limit = 2 * run.shape.size() / cs;
            if (clusters >= limit) {
                ioBatch(run);
                return;
            }
            newSize = (clusters + 1 + run.r.nextLong(limit - clusters)) * cs;
        } else {
            if (clusters < 2) {
                ioBatch(run);
                return;
            }
            newSize = (clusters / 2 + run.r.nextLong(clusters - clusters / 2)) * cs; // at least half stays
        }
        run.note("qemu-img resize " + (grow ? "" : "--shrink ") + newSize);
        Qemu.resize(run.img, Long.toString(newSize));
        run.size = newSize;
        SEEN.add(grow ? "grow" : "shrink");
    }

    // ---- checks -----------------------------------------------------------------------------

    private void verify(Run run) {
        Oracle.assertClean(run.img, "not clean after step " + run.step);
        assertSameList(run, Qemu.snapshots(run.img), "qemu-img info");
        try (QcowImage qi = QcowImage.open(run.img)) {
            assertSameList(run, listOf(qi.snapshots()), "our reader's snapshot list");
            assertEquals(run.size, qi.header().size(), "the header's size");
            for (SnapshotEntry e : qi.snapshots()) {
                Snap s = find(run, e.idString());
                assertEquals(s.bytes.length, qi.snapshotDiskSize(e), "disk size of snapshot " + s.id);
            }
        }
        assertEquals(run.size, Qemu.virtualSize(run.img), "qemu-img info virtual size");
        for (Snap s : run.snaps) {
            Bytes.assertSameBytes(s.bytes, snapshotBytes(run, s), "snapshot " + s.id + " (" + s.name + ") read by QEMU");
        }
    }

    private byte[] snapshotBytes(Run run, Snap s) {
        return Qemu.snapshotBytesAtOwnSize(run.img, s.id, s.bytes.length, run.size, dir);
    }

    private static void assertSameList(Run run, List<Listed> actual, String what) {
        List<Listed> expected = run.snaps.stream().map(Snap::listed).toList();
        assertEquals(expected.toString(), actual.toString(), what + " (ID:name in table order)");
    }

    private static List<Listed> listOf(List<SnapshotEntry> entries) {
        return entries.stream().map(e -> new Listed(e.idString(), e.nameString())).toList();
    }

    private static Snap find(Run run, String id) {
        return run.snaps.stream().filter(s -> s.id.equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("snapshot " + id + " is not in the model"));
    }

    private static boolean createdByQemu(Run run, Snap s) {
        return s.name.startsWith("q");
    }

    private byte[] active(Run run) {
        return Qemu.activeBytes(run.img, dir);
    }

    private static long numericId(String id) {
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** A random range inside the disk: byte-exact or cluster-aligned, short or long. */
    private static long[] range(Random r, long size, int cs) {
        long off;
        long len;
        switch (r.nextInt(3)) {
            case 0 -> {
                off = r.nextLong(size);
                len = 1 + r.nextInt(Math.max(1, Math.min(3 * cs, 200_000)));
            }
            case 1 -> {
                off = r.nextLong(size / cs) * cs;
                len = (long) cs * (1 + r.nextInt(4));
            }
            default -> {
                off = r.nextLong(size);
                len = 1 + r.nextLong(Math.max(1, size / 3));
            }
        }
        off = Math.min(off, size - 1);
        len = Math.min(len, size - off);
        return new long[] {off, len};
    }
}
