package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The specific cases are in {@link MalformedImageTest}; this one pokes a few hundred random fields
 * of the metadata (header, L1 tables, L2 tables, snapshot table, compressed data) of a small image
 * with snapshots, compressed, zero and normal clusters, and requires of every result that it either
 * reads or fails with an ImageException naming the image, in bounded time. The seed is fixed, so a
 * failure names a poke that can be replayed.
 */
class MetadataPokeFuzzTest {
    /** -Dfuzz.seed and -Dfuzz.rounds explore further; the defaults keep the suite fast. */
    private static final long SEED = Long.getLong("fuzz.seed", 0x5eed_0f_c0ffeeL);
    private static final int ROUNDS = Integer.getInteger("fuzz.rounds", 300);
    private static final long OFFSET_MASK = 0x00fffffffffffe00L;

    @TempDir
    Path dir;

    /** A byte range of the image that holds metadata. */
    private record Region(String what, long offset, long length) {
    }

    @Test
    void standardEntries() throws IOException {
        fuzz("cluster_size=4096", 12, SEED);
    }

    @Test
    void extendedL2Entries() throws IOException {
        fuzz("cluster_size=16384,extended_l2=on", 14, SEED + 1);
    }

    @Test
    void version2() throws IOException {
        fuzz("cluster_size=4096,compat=0.10", 12, SEED + 2);
    }

    @Test
    void zstd() throws IOException {
        fuzz("cluster_size=4096,compression_type=zstd", 12, SEED + 3);
    }

    private void fuzz(String options, int clusterBits, long seed) throws IOException {
        Path template = dir.resolve("template.qcow2");
        Qemu.create(template, "2M", options);
        Qemu.io(template, "write -P 0x11 0 256k", "write -c -P 0x22 512k 64k", "write -z 1M 64k");
        Qemu.snapshot(template, "one");
        Qemu.io(template, "write -P 0x33 128k 256k", "write -c -P 0x44 1536k 16k");
        Qemu.snapshot(template, "two");
        ReadAll.image(template, 64 * 1024 + 512);
        List<Region> regions = regions(template, clusterBits);

        Random random = new Random(seed);
        Path img = dir.resolve("fuzz.qcow2");
        int rejected = 0;
        for (int round = 0; round < ROUNDS; round++) {
            Files.copy(template, img, StandardCopyOption.REPLACE_EXISTING);
            Region region = regions.get(random.nextInt(regions.size()));
            int width = new int[] {1, 2, 4, 8}[random.nextInt(4)];
            long offset = region.offset() + random.nextInt((int) Math.max(1, region.length() - width + 1));
            if (random.nextBoolean()) {
                offset &= ~(long) (width - 1);
            }
            long value = value(random, img, offset, width);
            String poke = options + ", seed " + seed + ", round " + round + ": " + region.what() + ", u"
                    + (width * 8) + " at 0x" + Long.toHexString(offset) + " = 0x" + Long.toHexString(value);
            Poke.field(img, offset, width, value);
            Throwable t = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                try {
                    ReadAll.image(img, 64 * 1024 + 512);
                    return null;
                } catch (Throwable e) {
                    return e;
                }
            }, poke);
            if (t == null) {
                continue;
            }
            if (!(t instanceof ImageException e)) {
                throw new AssertionError(poke + ": threw " + t, t);
            }
            assertTrue(e.getMessage().startsWith("fuzz.qcow2: "), poke + ": message does not name the image: "
                    + e.getMessage());
            rejected++;
        }
        // The pokes must actually find errors, or this test tests nothing.
        assertTrue(rejected > ROUNDS / 5, "only " + rejected + " of " + ROUNDS + " pokes were rejected");
    }

    /** Interesting values: extremes, small numbers, and the current value nudged. */
    private static long value(Random random, Path img, long offset, int width) {
        long mask = width == 8 ? -1L : (1L << (width * 8)) - 1;
        long current = Poke.readField(img, offset, width);
        long v = switch (random.nextInt(9)) {
            case 0 -> 0;
            case 1 -> mask;
            case 2 -> 1L << (width * 8 - 1);
            case 3 -> random.nextInt(64);
            case 4 -> current + 1 + random.nextInt(8);
            case 5 -> current - 1 - random.nextInt(8);
            case 6 -> current ^ (1L << random.nextInt(width * 8));
            case 7 -> current + ((long) (1 + random.nextInt(64)) << 12);
            default -> random.nextLong();
        };
        return v & mask;
    }

    private static List<Region> regions(Path img, int clusterBits) {
        List<Region> regions = new ArrayList<>();
        boolean v3 = Poke.readU32(img, 4) == 3;
        regions.add(new Region("header", 0, v3 ? 112 : 72));
        long headerLength = v3 ? Poke.readU32(img, 100) : 72;
        regions.add(new Region("header extensions", headerLength, 0x200 - headerLength));
        long l1 = Poke.readU64(img, 40);
        long l1Size = Poke.readU32(img, 36);
        regions.add(new Region("active L1", l1, l1Size * 8));
        addL2Tables(img, "active", l1, l1Size, clusterBits, regions);
        long table = Poke.readU64(img, 64);
        long pos = table;
        for (int i = 0; i < Poke.readU32(img, 60); i++) {
            long extra = Poke.readU32(img, pos + 36);
            long end = pos + SnapshotEntry.FIXED_SIZE + extra + Poke.readU16(img, pos + 12) + Poke.readU16(img, pos + 14);
            regions.add(new Region("snapshot entry " + i, pos, end - pos));
            long snL1 = Poke.readU64(img, pos);
            long snL1Size = Poke.readU32(img, pos + 8);
            regions.add(new Region("snapshot " + i + " L1", snL1, snL1Size * 8));
            addL2Tables(img, "snapshot " + i, snL1, snL1Size, clusterBits, regions);
            pos = (end + 7) & ~7L;
        }
        return regions;
    }

    private static void addL2Tables(Path img, String owner, long l1, long l1Size, int clusterBits,
            List<Region> regions) {
        boolean extended = (Poke.readU32(img, 4) == 3) && (Poke.readU64(img, 72) & (1L << 4)) != 0;
        int entryBytes = extended ? 16 : 8;
        long entries = (2L << 20) >> clusterBits;
        for (int i = 0; i < l1Size; i++) {
            long l2 = Poke.readU64(img, l1 + 8L * i) & OFFSET_MASK;
            if (l2 == 0) {
                continue;
            }
            // Only the used part of the table: the 2 MiB disk.
            regions.add(new Region(owner + " L2 at 0x" + Long.toHexString(l2), l2, entries * entryBytes));
            for (int e = 0; e < entries; e++) {
                long entry = Poke.readU64(img, l2 + (long) entryBytes * e);
                if ((entry & (1L << 62)) != 0) {
                    long data = entry & ((1L << (62 - (clusterBits - 8))) - 1);
                    regions.add(new Region(owner + " compressed data at 0x" + Long.toHexString(data), data, 32));
                }
            }
        }
    }

}
