package io.qsnapfs.engine.check;

import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.testing.MetadataPoker;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A qcow2 image shaped by a seeded random sequence of QEMU operations: plain, compressed and
 * zero writes, discards, snapshot create/delete/apply and growing the disk, on a random cluster
 * size, refcount width, version, compression type and L2 entry format. {@link #recipe()} says
 * what was done, for failure messages.
 */
final class RandomImage {
    private final Path path;
    private final StringBuilder recipe = new StringBuilder();

    private RandomImage(Path path) {
        this.path = path;
    }

    Path path() {
        return path;
    }

    String recipe() {
        return recipe.toString();
    }

    static RandomImage build(Path dir, Random r) {
        int clusterBits = new int[] {9, 12, 16, 16, 17}[r.nextInt(5)];
        boolean v2 = r.nextInt(6) == 0;
        int refBits = v2 ? 16 : new int[] {16, 16, 8, 32, 64, 4, 2}[r.nextInt(7)];
        boolean extL2 = !v2 && clusterBits >= 14 && r.nextInt(3) == 0;
        String compression = !v2 && r.nextBoolean() ? "zstd" : "zlib";
        long mib = clusterBits == 9 ? 2 + r.nextInt(6) : 4 + r.nextInt(60);
        long size = mib << 20;
        String options = "cluster_size=" + (1 << clusterBits) + ",refcount_bits=" + refBits
                + (v2 ? ",compat=0.10" : ",compression_type=" + compression) + (extL2 ? ",extended_l2=on" : "");
        RandomImage img = new RandomImage(dir.resolve("random.qcow2"));
        Qemu.create(img.path, size + "", options);
        img.recipe.append("create ").append(options).append(' ').append(size).append('\n');

        int maxSnapshots = refBits == 2 ? 1 : refBits == 4 ? 8 : 12;
        List<String> snapshots = new ArrayList<>();
        int next = 0;
        int ops = 6 + r.nextInt(8);
        for (int op = 0; op < ops; op++) {
            int kind = r.nextInt(12);
            if (kind < 6) {
                List<String> cmds = new ArrayList<>();
                int n = 1 + r.nextInt(6);
                for (int i = 0; i < n; i++) {
                    cmds.addAll(List.of(ioCommand(r, size, 1L << clusterBits).split(";")));
                }
                Qemu.io(img.path, cmds.toArray(new String[0]));
                img.recipe.append("qemu-io ").append(cmds).append('\n');
            } else if (kind < 8 && snapshots.size() < maxSnapshots) {
                String name = "s" + next++;
                Qemu.snapshot(img.path, name);
                snapshots.add(name);
                img.recipe.append("snapshot -c ").append(name).append('\n');
            } else if (kind == 8 && !snapshots.isEmpty()) {
                String name = snapshots.remove(r.nextInt(snapshots.size()));
                Qemu.deleteSnapshot(img.path, name);
                img.recipe.append("snapshot -d ").append(name).append('\n');
            } else if (kind == 9 && !snapshots.isEmpty() && refBits > 2) {
                String name = snapshots.get(r.nextInt(snapshots.size()));
                Qemu.applySnapshot(img.path, name);
                img.recipe.append("snapshot -a ").append(name).append('\n');
            } else if (kind == 10 && r.nextInt(3) == 0) {
                size += (1 + r.nextInt(4)) << 20;
                Qemu.resize(img.path, size + "");
                img.recipe.append("resize ").append(size).append('\n');
            }
        }
        return img;
    }

    private static String ioCommand(Random r, long size, long clusterSize) {
        long sectors = size / 512;
        long off = (long) (r.nextDouble() * sectors) * 512;
        long len = Math.min(size - off, 512L * (1 + r.nextInt(512)));
        int pattern = 1 + r.nextInt(250);
        return switch (r.nextInt(8)) {
            case 0, 1, 2 -> "write -P " + pattern + " " + off + " " + len;
            case 3 -> {
                long c = (off / clusterSize) * clusterSize;
                // QEMU writes compressed data only to unallocated clusters: discard first.
                yield "discard " + c + " " + clusterSize + ";write -c -P " + pattern + " " + c + " "
                        + Math.min(clusterSize, size - c);
            }
            case 4 -> "write -z " + off + " " + len;
            case 5 -> "write -z -u " + off + " " + len;
            case 6 -> "discard " + off + " " + len;
            default -> "write -P " + pattern + " " + (off & ~(clusterSize - 1)) + " "
                    + Math.min(size - (off & ~(clusterSize - 1)), clusterSize * (1 + r.nextInt(8)));
        };
    }

    /**
     * Plants a few faults: stored refcounts moved one up or down, and a COPIED flag flipped on an
     * allocated active L2 entry. Returns how many were planted.
     */
    int plantFaults(Random r) {
        int planted = 0;
        MetadataPoker p = MetadataPoker.of(path);
        long clusters = p.fileSize() / p.clusterSize();
        long max = RefcountBlock.maxRefcount(p.header().refcountOrder());
        for (int i = 0; i < 3; i++) {
            long c = (long) (r.nextDouble() * clusters);
            long cur;
            try {
                cur = p.storedRefcount(c);
                long value = cur == 0 ? 1 : cur == max || r.nextBoolean() ? cur - 1 : cur + 1;
                p.setStoredRefcount(c, value);
                recipe.append("refcount of cluster ").append(c).append(": ").append(cur).append(" -> ")
                        .append(value).append('\n');
                planted++;
            } catch (IllegalStateException e) {
                // no refcount block there; try another
            }
        }
        long guestClusters = p.header().size() / p.clusterSize();
        for (int tries = 0; tries < 50 && guestClusters > 0; tries++) {
            long guest = (long) (r.nextDouble() * guestClusters) * p.clusterSize();
            long l1 = Poke.readU64(path, p.l1EntryPos(guest));
            if ((l1 & L2Entry.OFFSET_MASK) == 0) {
                continue;
            }
            long pos = p.l2EntryPos(guest);
            long entry = Poke.readU64(path, pos);
            if ((entry & L2Entry.COMPRESSED) != 0 || (entry & L2Entry.OFFSET_MASK) == 0) {
                continue;
            }
            Poke.u64(path, pos, entry ^ L2Entry.COPIED);
            recipe.append("flip COPIED of guest offset ").append(guest).append('\n');
            planted++;
            break;
        }
        return planted;
    }
}
