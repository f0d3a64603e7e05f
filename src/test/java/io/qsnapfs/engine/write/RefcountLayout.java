package io.qsnapfs.engine.write;

import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where an image's refcount table is, how big, how many refcount blocks it points to and how
 * many clusters the file has, read straight from the header and the table; and how to build an
 * image whose file has almost outgrown its refcount table.
 *
 * @param tableOffset refcount_table_offset
 * @param tableClusters refcount_table_clusters
 * @param blocks nonzero entries of the table (refcount blocks in use)
 * @param fileClusters the file's length in clusters (rounded up)
 * @param covered clusters the table can describe: its entries times the clusters one block covers
 */
record RefcountLayout(long tableOffset, long tableClusters, long blocks, long fileClusters, long covered) {
    static RefcountLayout of(Path image) {
        try {
            int clusterBits = (int) Poke.readU32(image, 20);
            long clusterSize = 1L << clusterBits;
            long tableOffset = Poke.readU64(image, 48);
            long tableClusters = Poke.readU32(image, 56);
            int version = (int) Poke.readU32(image, 4);
            int refcountOrder = version >= 3 ? (int) Poke.readU32(image, 96) : 4;
            long entries = tableClusters * clusterSize / 8;
            long perBlock = clusterSize * 8 >> refcountOrder;
            ByteBuffer table = ByteBuffer.wrap(Poke.readBytes(image, tableOffset, (int) (entries * 8)));
            long blocks = 0;
            for (long i = 0; i < entries; i++) {
                if (table.getLong() != 0) {
                    blocks++;
                }
            }
            long size = Files.size(image);
            return new RefcountLayout(tableOffset, tableClusters, blocks, (size + clusterSize - 1) / clusterSize,
                    entries * perBlock);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Clusters the file may still grow by before the table must grow. */
    long headroom() {
        return covered - fileClusters;
    }

    @Override
    public String toString() {
        return "refcount table at " + tableOffset + " (" + tableClusters + " clusters, " + blocks + " blocks, covers "
                + covered + " clusters), file " + fileClusters + " clusters";
    }

    /**
     * An image of {@code size} (4M or more) with 512-byte clusters and 64-bit refcounts (a table
     * cluster points to 64 blocks of 64 refcounts: 4096 clusters, 2 MiB of file), filled by qemu-io
     * with sequential pattern data until at most {@code headroom} clusters are left before the
     * table is full.
     */
    static Path nearFullTable(Path image, String size, int headroom) {
        io.qsnapfs.testing.Qemu.create(image, size, "cluster_size=512,refcount_bits=64");
        fill(image, 0, headroom);
        return image;
    }

    /**
     * Writes pattern data with qemu-io from guest offset {@code from} on until at most
     * {@code headroom} clusters are left before the refcount table of a 512-byte-cluster image is
     * full; returns the guest offset after the data.
     */
    static long fill(Path image, long from, int headroom) {
        long next = from;
        for (int round = 0; round < 50; round++) {
            RefcountLayout l = of(image);
            if (l.headroom() <= headroom) {
                return next;
            }
            // Each data cluster costs about 1 + 2/64 clusters (its L2 table and refcount block).
            long clusters = Math.max(1, (l.headroom() - headroom) * 62 / 64);
            Qemu.io(image, "write -P " + (1 + round % 250) + " " + next + " " + clusters * 512);
            next += clusters * 512;
        }
        throw new IllegalStateException("could not fill " + image + " up to its refcount table: " + of(image));
    }
}
