package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.RandomHistory;
import io.qsnapfs.testing.Recipe;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * compressed writes, snapshots; {@link RandomHistory} with its {@code READING} options) that every
 * snapshot and the active layer read through the engine exactly as {@code qemu-img convert} writes
 * them. A failure names the seed and the recipe.
 */
class RandomDifferentialTest {
    private static final int IMAGES = 64;
    private static final long FIRST_SEED = 20_260_101L;

    /** Features the seeds produced; checked once all seeds ran, so the fixed seeds keep covering them. */
    private static final Set<String> SEEN = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger FINISHED = new AtomicInteger();

    @TempDir
    Path dir;

    static LongStream seeds() {
        return LongStream.range(FIRST_SEED, FIRST_SEED + IMAGES);
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
        for (int cs : RandomHistory.CLUSTER_SIZES) {
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
        RandomHistory history = RandomHistory.build(r, seed, dir, RandomHistory.Options.READING, SEEN, recipe);
        int[] chunks = {Oracle.CHUNKS[r.nextInt(Oracle.CHUNKS.length)], 1 + r.nextInt(300_000)};
        Oracle.assertImageMatchesQemu(Ours::open, history.image(), dir, chunks, 24, seed);
    }
}
