package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that 8 threads reading different snapshots of the same open images at once (random odd
 * offsets and lengths, shared and per-thread views, cold caches, and 2 MiB clusters that keep the
 * bounded L2 and decompressed-cluster caches evicting) get exactly QEMU's bytes.
 */
class ConcurrentReadTest {
    private static final int THREADS = 8;
    private static final int M = 1 << 20;

    @TempDir
    Path dir;

    /** One disk to read: the image it comes from, how to make a view of it, and QEMU's bytes. */
    private record Target(String name, QcowImage image, SnapshotEntry snapshot, Qcow2View shared, byte[] expected) {
        Qcow2View freshView() {
            return snapshot == null ? image.activeView() : image.snapshotView(snapshot);
        }
    }

    @Test
    void eightThreadsReadSnapshotsAtOnce() throws Exception {
        // Image A: 4K clusters, zstd, over a qcow2 backing file, 5 snapshots.
        Path base = Qemu.create(dir.resolve("base.qcow2"), "6M", "cluster_size=65536");
        Qemu.io(base, "write -s " + Bytes.noiseFile(dir, "bn", 6 * M, 1) + " 0 6M");
        Path a = dir.resolve("a.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096,compression_type=zstd", "-b", "base.qcow2",
                "-F", "qcow2", a.toString(), "8M");
        Path noiseA = Bytes.noiseFile(dir, "na", M, 2);
        for (int i = 0; i < 5; i++) {
            Qemu.io(a, "write -c -s " + noiseA + " " + (i * M + M / 2) + " 256k",
                    "write -P " + (0x20 + i) + " " + (i * 700_001 % (7 * M)) + " 300000",
                    "write -z " + (i * 3 * M / 5) + " 64k",
                    "discard " + ((i + 3) % 8) * M + " 128k");
            Qemu.snapshot(a, "a" + i);
        }
        Qemu.io(a, "write -P 0x7a 5M 1M");

        // Image B: 2 MiB clusters, zlib, compressed noise in every snapshot.
        Path b = Qemu.create(dir.resolve("b.qcow2"), "16M", "cluster_size=2M");
        Path noiseB = Bytes.noiseFile(dir, "nb", 2 * M, 3);
        for (int i = 0; i < 4; i++) {
            Qemu.io(b, "write -c -s " + noiseB + " " + (2L * i * M) + " 2M",
                    "write -P " + (0x40 + i) + " " + (9 * M + i * 300_001) + " 500000");
            Qemu.snapshot(b, "b" + i);
        }
        Qemu.io(b, "write -c -s " + noiseB + " 12M 2M", "write -c -s " + noiseB + " 14M 2M");
        Oracle.assertClean(a);
        Oracle.assertClean(b);

        try (QcowImage ia = QcowImage.open(a); QcowImage ib = QcowImage.open(b)) {
            List<Target> targets = new ArrayList<>();
            for (QcowImage qi : List.of(ia, ib)) {
                Path p = qi.path();
                for (SnapshotEntry s : qi.snapshots()) {
                    targets.add(new Target(qi.name() + " snapshot " + s.idString(), qi, s, qi.snapshotView(s),
                            Qemu.snapshotBytes(p, s.idString(), dir)));
                }
                targets.add(new Target(qi.name() + " active", qi, null, qi.activeView(), Qemu.activeBytes(p, dir)));
            }
            assertEquals(11, targets.size());

            CyclicBarrier start = new CyclicBarrier(THREADS);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    long seed = 1000 + t;
                    results.add(pool.submit(() -> reader(seed, targets, start)));
                }
                int total = 0;
                for (Future<Integer> f : results) {
                    total += f.get(5, TimeUnit.MINUTES);
                }
                assertEquals(THREADS * 400, total);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** One reader thread: 400 random reads of random targets; returns how many it checked. */
    private static int reader(long seed, List<Target> targets, CyclicBarrier start) throws Exception {
        Random r = new Random(seed);
        start.await();
        int done = 0;
        for (int i = 0; i < 400; i++) {
            Target t = targets.get(r.nextInt(targets.size()));
            // Half the reads share one view, half make their own (reading the L1 table again).
            Qcow2View view = r.nextBoolean() ? t.shared() : t.freshView();
            int size = t.expected().length;
            int offset = r.nextInt(size) | (r.nextBoolean() ? 1 : 0);
            offset = Math.min(offset, size - 1);
            int length = 1 + r.nextInt(r.nextInt(4) == 0 ? 3 * M : 70_000);
            ByteBuffer buf = r.nextBoolean() ? ByteBuffer.allocateDirect(length) : ByteBuffer.allocate(length);
            int n;
            try {
                n = view.read(offset, buf);
            } catch (IOException | RuntimeException e) {
                throw new AssertionError("thread seed " + seed + ": " + t.name() + " read of " + length + " at "
                        + offset + " threw", e);
            }
            int want = Math.min(length, size - offset);
            if (n != want) {
                fail("thread seed " + seed + ": " + t.name() + " read " + n + " bytes at " + offset + ", want " + want);
            }
            byte[] got = new byte[n];
            buf.get(0, got);
            int mismatch = Arrays.mismatch(got, Arrays.copyOfRange(t.expected(), offset, offset + n));
            if (mismatch >= 0) {
                fail("thread seed " + seed + ": " + t.name() + " differs at disk offset " + (offset + mismatch)
                        + " (read of " + length + " at " + offset + ")");
            }
            done++;
        }
        return done;
    }
}
