package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.testing.MetadataPoker;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Stored refcounts read from images QEMU wrote, for every refcount width. */
class RefcountsTest {
    @TempDir
    Path dir;

    private static Refcounts load(PositionalFile f) throws IOException {
        ImageFile image = ImageFile.over(f);
        return Refcounts.load(image, image.readHeader());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8, 16, 32, 64})
    void readsWhatQemuWrote(int bits) throws IOException {
        Path img = Qemu.create(dir.resolve("r.qcow2"), "4M", "refcount_bits=" + bits + ",cluster_size=4096");
        Qemu.io(img, "write -P 1 0 1M");
        if (bits > 1) {
            Qemu.snapshot(img, "s");
        }
        long dataCluster;
        long l2Cluster;
        MetadataPoker p = MetadataPoker.of(img);
        dataCluster = p.hostCluster(8192);
        l2Cluster = p.l2Cluster(0);
        try (PositionalFile f = PositionalFile.openReadOnly(img)) {
            Refcounts r = load(f);
            long clusters = (f.size() + 4095) / 4096;
            long shared = 0;
            for (long c = 0; c < clusters; c++) {
                long v = r.get(c);
                assertTrue(v == 1 || v == 2, "cluster " + c + " has refcount " + v);
                shared += v == 2 ? 1 : 0;
            }
            assertEquals(0, r.get(clusters + 3));
            assertEquals(0, r.get(1L << 40), "past the table");
            long expectedShared = bits > 1 ? 256 + 1 : 0; // the data clusters and the L2 table
            assertEquals(expectedShared, shared);
            assertEquals(bits > 1 ? 2 : 1, r.get(dataCluster));
            assertEquals(bits > 1 ? 2 : 1, r.getAt(l2Cluster * 4096 + 100));
            assertEquals(RefcountBlockLimits.max(bits), r.refcountMax());
        }
        QemuCheckOracle.assertCleanLikeQemu(img);
    }

    @Test
    void misplacedBlocksAreNamedErrors() throws IOException {
        Path img = Qemu.create(dir.resolve("bad.qcow2"), "64M", "cluster_size=512");
        Qemu.io(img, "write -P 1 0 1M");
        long perBlock = 512 * 8 / 16;
        MetadataPoker p = MetadataPoker.of(img);
        long table = p.header().refcountTableOffset();
        Poke.u64(img, table + 8, Poke.readU64(img, table + 8) | 0x100); // reserved bit
        Poke.u64(img, table + 24, p.fileSize() + 4096 * 512L); // beyond the end
        try (PositionalFile f = PositionalFile.openReadOnly(img)) {
            Refcounts r = load(f);
            assertEquals(1, r.get(perBlock + 1), "reserved bits are ignored when reading");
            ImageException beyond = assertThrows(ImageException.class, () -> r.get(3 * perBlock));
            assertEquals(ImageException.Kind.CORRUPT, beyond.kind());
            assertTrue(beyond.getMessage().startsWith("bad.qcow2: refcount block 3 "), beyond.getMessage());
            assertTrue(beyond.getMessage().contains("beyond the end of the file"), beyond.getMessage());
        }
        Path big = Qemu.create(dir.resolve("big.qcow2"), "64M", "");
        Qemu.io(big, "write -P 1 0 1M");
        p = MetadataPoker.of(big);
        long bigTable = p.header().refcountTableOffset();
        Poke.u64(big, bigTable, Poke.readU64(big, bigTable) + 512);
        try (PositionalFile f = PositionalFile.openReadOnly(big)) {
            Refcounts r = load(f);
            ImageException e = assertThrows(ImageException.class, () -> r.get(5));
            assertTrue(e.getMessage().startsWith("big.qcow2: refcount block 0 at 0x20200 is not aligned"),
                    e.getMessage());
        }
    }

    @Test
    void tableBeyondTheEndIsRefused() throws IOException {
        Path img = Qemu.create(dir.resolve("t.qcow2"), "8M", "");
        Poke.u64(img, 48, 0x100000); // refcount_table_offset past the end
        try (PositionalFile f = PositionalFile.openReadOnly(img)) {
            ImageException e = assertThrows(ImageException.class, () -> load(f));
            assertTrue(e.getMessage().startsWith("t.qcow2: refcount table at 0x100000"), e.getMessage());
        }
    }

    @Test
    void blockCacheStaysBounded() throws IOException {
        Path img = Qemu.create(dir.resolve("many.qcow2"), "8M", "cluster_size=512,refcount_bits=64");
        Qemu.io(img, "write -P 1 0 4M");
        try (PositionalFile f = PositionalFile.openReadOnly(img)) {
            ImageFile image = ImageFile.over(f);
            Refcounts r = Refcounts.load(image, image.readHeader(), 0);
            long clusters = f.size() / 512;
            long used = 0;
            for (long c = 0; c < clusters; c++) {
                long v = r.get(c);
                assertTrue(v <= 1, "cluster " + c + ": " + v);
                used += v;
            }
            assertTrue(used > 8192, "used " + used);
            assertTrue(clusters / 64 > 100, "the image should need many blocks");
            assertTrue(r.cachedBlocks() <= 16, "cached " + r.cachedBlocks());
        }
    }

    /** Largest refcount per width, spelled out independently of RefcountBlock. */
    private static final class RefcountBlockLimits {
        static long max(int bits) {
            return bits == 64 ? -1L : (1L << bits) - 1;
        }
    }
}
