package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.DiffOracle;
import io.qsnapfs.testing.DiffOracle.Change;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.RandomHistory;
import io.qsnapfs.testing.Recipe;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Proves {@link Diff} exact against QEMU on 32 images with seeded random histories
 * ({@link RandomHistory}: every cluster size, v2, extended L2, qcow2 and raw backing files,
 * refcounts of 16 to 64 bits; qemu-io writes, zero writes, discards, compressed writes, clusters
 * compressed twice, resizes both ways, and snapshots taken and deleted by {@code qemu-img} and by
 * our {@code WritableImage}). For every pair
 * of the snapshots left, and each snapshot against the active layer, in both directions:
 * <ul>
 * <li>every byte outside the reported ranges is equal in the two disks as {@code qemu-img convert}
 *     reads them, each at its own size, and the range past the smaller disk's end is reported;
 * <li>the ranges, rounded out to clusters, reach only clusters that a write, zero write, discard
 *     or resize touched after the older of the two was taken and before the newer one was (or
 *     until now, for the active layer);
 * <li>they are in order, non-overlapping and coalesced; a range marked zero reads zeros in TO;
 * <li>both directions cover the same ranges (a diff is symmetric in ranges), {@link Diff#changes}
 *     and {@link Diff#list} agree, and a disk against itself has no changes.
 * </ul>
 * A failure names the seed, the pair and the recipe.
 */
class DiffDifferentialTest {
    private static final int IMAGES = 32;
    private static final long FIRST_SEED = 20_261_201L;
    private static final RandomHistory.Options OPTIONS = new RandomHistory.Options(10, 16, 30, true, true,
            OurSnapshots.TOOL, true, 16);

    /** Features the seeds produced; checked once all seeds ran, so the fixed seeds keep covering them. */
    private static final Set<String> SEEN = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger FINISHED = new AtomicInteger();
    private static final AtomicLong PAIRS = new AtomicLong();
    private static final AtomicLong RANGES = new AtomicLong();
    private static final AtomicLong REPORTED_CLUSTERS = new AtomicLong();
    private static final AtomicLong DIFFERING_CLUSTERS = new AtomicLong();
    private static final AtomicLong TOUCHED_CLUSTERS = new AtomicLong();
    private static final AtomicLong EXACT_PAIRS = new AtomicLong();

    @TempDir
    Path dir;

    static LongStream seeds() {
        return LongStream.range(FIRST_SEED, FIRST_SEED + IMAGES);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void diffOfEveryPairIsExactAgainstQemu(long seed) {
        Recipe recipe = new Recipe();
        try {
            run(seed, recipe);
            FINISHED.incrementAndGet();
        } catch (AssertionError | RuntimeException | IOException e) {
            throw new AssertionError("seed " + seed + " failed: " + e.getMessage() + "\nrecipe:\n  " + recipe, e);
        }
    }

    @AfterAll
    static void seedsCoverEveryFeature() {
        if (FINISHED.get() < IMAGES) {
            return; // a subset ran (or failed); nothing to say about coverage
        }
        System.out.printf("DiffDifferentialTest: %d images, %d pairs (each diffed both ways), %d ranges; one way: %d clusters reported,"
                + " %d really differ, %d touched; %d pairs reported exactly the clusters that differ%n", IMAGES,
                PAIRS.get(), RANGES.get(), REPORTED_CLUSTERS.get(), DIFFERING_CLUSTERS.get(), TOUCHED_CLUSTERS.get(),
                EXACT_PAIRS.get());
        List<String> wanted = new ArrayList<>(List.of("v2", "extended_l2", "extended_l2+backing", "backing raw",
                "backing qcow2", "compressed", "write -z -u", "write -z", "discard", "resize grow", "resize shrink",
                "resize to a partial cluster", "create by qsnapfs snapshot", "delete by qsnapfs snapshot",
                "delete by qemu-img snapshot", "pair of snapshots", "snapshot and active layer",
                "sizes differ, TO larger", "sizes differ, FROM larger", "zero range", "backing and changes",
                "a cluster compressed twice"));
        for (int cs : RandomHistory.CLUSTER_SIZES) {
            wanted.add("cluster_size=" + cs);
        }
        wanted.removeAll(SEEN);
        assertTrue(wanted.isEmpty(), "the fixed seeds no longer produce: " + wanted);
    }

    private void run(long seed, Recipe recipe) throws IOException {
        RandomHistory h = RandomHistory.build(new Random(seed), seed, dir, OPTIONS, SEEN, recipe);
        Path img = h.image();
        List<RandomHistory.Snapshot> snaps = h.snapshots();
        List<Qemu.Listed> listed = Qemu.snapshots(img);
        assertEquals(snaps.stream().map(RandomHistory.Snapshot::name).toList(),
                listed.stream().map(Qemu.Listed::name).toList(), "the snapshots qemu-img lists");
        int n = snaps.size();
        byte[][] bytes = new byte[n + 1][];
        String[] names = new String[n + 1];
        for (int i = 0; i < n; i++) {
            bytes[i] = Qemu.snapshotBytesAtOwnSize(img, listed.get(i).id(), snaps.get(i).size(), h.size(), dir);
            names[i] = "snapshot " + listed.get(i) + " (size " + snaps.get(i).size() + ")";
        }
        bytes[n] = Qemu.activeBytes(img, dir);
        names[n] = "the active layer (size " + h.size() + ")";
        boolean backing = recipe.toString().contains(" -b ");
        try (QcowImage qi = QcowImage.open(img)) {
            Qcow2View[] views = new Qcow2View[n + 1];
            for (int i = 0; i < n; i++) {
                views[i] = qi.snapshotView(qi.findById(listed.get(i).id()));
            }
            views[n] = qi.activeView();
            for (int i = 0; i <= n; i++) {
                assertEquals(bytes[i].length, views[i].size(), names[i] + ": disk size");
                assertTrue(Diff.list(views[i], views[i]).isEmpty(), names[i] + " against itself has changes");
            }
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j <= n; j++) {
                    BitSet touched = h.touchedBetween(snaps.get(i), j == n ? null : snaps.get(j));
                    String what = "diff from " + names[i] + " to " + names[j];
                    List<Change> forward = diff(views[i], views[j], what);
                    DiffOracle.assertDiff(bytes[i], bytes[j], forward, touched, h.clusterSize(), what);
                    String back = "diff from " + names[j] + " to " + names[i];
                    List<Change> backward = diff(views[j], views[i], back);
                    DiffOracle.assertDiff(bytes[j], bytes[i], backward, touched, h.clusterSize(), back);
                    DiffOracle.assertSameRanges(forward, backward, what + ", both ways");
                    count(forward, backward, bytes[i], bytes[j], touched, h.clusterSize());
                    SEEN.add(j == n ? "snapshot and active layer" : "pair of snapshots");
                    if (bytes[i].length != bytes[j].length) {
                        SEEN.add(bytes[i].length < bytes[j].length ? "sizes differ, TO larger"
                                : "sizes differ, FROM larger");
                    }
                    if (forward.stream().anyMatch(Change::zero)) {
                        SEEN.add("zero range");
                    }
                    if (backing && !forward.isEmpty()) {
                        SEEN.add("backing and changes");
                    }
                }
            }
        }
    }

    /** {@link Diff#list}, checked against {@link Diff#changes}, as the oracle's ranges. */
    private static List<Change> diff(Qcow2View from, Qcow2View to, String what) throws IOException {
        List<DiffExtent> listed = Diff.list(from, to);
        List<DiffExtent> streamed = new ArrayList<>();
        Diff.changes(from, to, (start, length, zero) -> streamed.add(new DiffExtent(start, length, zero)));
        assertEquals(listed, streamed, what + ": Diff.list and Diff.changes disagree");
        return listed.stream().map(e -> new Change(e.start(), e.length(), e.zero())).toList();
    }

    private static void count(List<Change> forward, List<Change> backward, byte[] from, byte[] to, BitSet touched,
            int clusterSize) {
        BitSet reported = DiffOracle.clusters(forward, clusterSize);
        BitSet differing = DiffOracle.differingClusters(from, to, clusterSize);
        PAIRS.incrementAndGet();
        RANGES.addAndGet(forward.size() + backward.size());
        REPORTED_CLUSTERS.addAndGet(reported.cardinality());
        DIFFERING_CLUSTERS.addAndGet(differing.cardinality());
        TOUCHED_CLUSTERS.addAndGet(touched.cardinality());
        if (reported.equals(differing)) {
            EXACT_PAIRS.incrementAndGet();
        }
    }
}
