package io.qsnapfs.engine.write;

import static io.qsnapfs.testing.TableWalk.raw;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.engine.MetadataGuard;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metadata overlap guard stops writes the engine gets wrong. Faults are injected into the
 * allocator, which hands out a cluster in use (an L2 table, the active L1 table, a refcount block,
 * the header); the guard refuses before the bad write reaches the file, naming both structures,
 * and whatever was written before it leaves an image qemu-img check finds without corruption.
 */
class MetadataGuardTest {
    private static final long OFFSET_MASK = 0x00fffffffffffe00L;

    @TempDir
    Path dir;

    private Path image() {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "8M", "cluster_size=4096");
        Qemu.io(img, "write -P 0x11 0 1M", "write -P 0x22 4M 64k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 0x33 0 64k");
        return img;
    }

    /** The L2 table offsets of the active L1 table's first 512 entries, flags masked off. */
    private static long[] l2Offsets(Path img, long l1) {
        ByteBuffer b = ByteBuffer.wrap(Poke.readBytes(img, l1, 4096));
        long[] out = new long[512];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getLong() & OFFSET_MASK;
        }
        return out;
    }

    /** Redirects allocation number {@code which} (from 1) to {@code offset}. */
    private static LongUnaryOperator redirect(int which, long offset) {
        AtomicInteger calls = new AtomicInteger();
        return given -> calls.incrementAndGet() == which ? offset : given;
    }

    private ImageException refused(Path img, LongUnaryOperator fault, Consumer<WritableImage> op) throws IOException {
        try (WritableImage w = WritableImage.withAllocationFault(PositionalFile.openReadWrite(img), fault)) {
            return assertThrows(ImageException.class, () -> op.accept(w));
        }
    }

    private static void assertNames(ImageException e, String... words) {
        assertEquals(ImageException.Kind.CORRUPT, e.kind(), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), e.getMessage());
        }
    }

    @Test
    void snapshotL1CopyOntoAnL2TableIsRefusedWithTheFileUntouched() throws IOException {
        Path img = image();
        byte[] before = Files.readAllBytes(img);
        ImageException e = refused(img, redirect(1, raw(img).l2TableOffset(0)), w -> w.create("two"));
        assertNames(e, "L1 table of a snapshot", "L2 table at");
        assertArrayEquals(before, Files.readAllBytes(img));
    }

    @Test
    void snapshotTableOntoTheActiveL1TableIsRefusedAfterOnlyConsistentWrites() throws IOException {
        Path img = image();
        byte[] active = Qemu.activeBytes(img, dir);
        long l1 = raw(img).l1TableOffset();
        long[] l2sBefore = l2Offsets(img, l1);
        ImageException e = refused(img, redirect(2, l1), w -> w.create("two"));
        assertNames(e, "snapshot table", "active L1 table at");
        // the L1 copy was written and COPIED cleared in the active table before; its entries stay
        assertArrayEquals(l2sBefore, l2Offsets(img, l1), "the active L1 table was overwritten");
        Processes.Output check = Qemu.run(List.of("qemu-img", "check", img.toString()));
        assertTrue(check.exitCode() == 0 || check.exitCode() == 3, "only leaks allowed: " + check.stdout() + check.stderr());
        assertArrayEquals(active, Qemu.activeBytes(img, dir));
        assertEquals(List.of("one"), List.of(Qemu.img("snapshot", "-l", img.toString()).lines()
                .skip(2).map(l -> l.trim().split("\\s+")[1]).toArray()));
    }

    @Test
    void deletesNewTableOntoARefcountBlockIsRefusedWithTheFileUntouched() throws IOException {
        Path img = image();
        Qemu.snapshot(img, "two");
        byte[] before = Files.readAllBytes(img);
        ImageException e = refused(img, redirect(1, raw(img).refcountBlockOffset(0)), w -> w.delete("one"));
        assertNames(e, "snapshot table", "refcount block at");
        assertArrayEquals(before, Files.readAllBytes(img));
    }

    @Test
    void applysNewActiveTableOntoTheHeaderIsRefusedWithTheFileUntouched() throws IOException {
        Path img = image();
        byte[] before = Files.readAllBytes(img);
        ImageException e = refused(img, redirect(1, 0), w -> w.apply("one"));
        assertNames(e, "active L1 table at 0x0", "header at 0x0");
        assertArrayEquals(before, Files.readAllBytes(img));
    }

    /** The guard on its own: a write lands only on the structure it names. */
    @Test
    void aWriteMeantForOneStructureCannotLandOnAnother() throws IOException {
        Path img = image();
        byte[] before = Files.readAllBytes(img);
        try (ImageFile f = ImageFile.openReadWrite(img)) {
            MetadataGuard g = new MetadataGuard(f, 12);
            g.claim(MetadataGuard.Structure.HEADER, 0, 4096);
            g.claim(MetadataGuard.Structure.L2, 0x5000, 4096);
            g.claim(MetadataGuard.Structure.REFCOUNT_BLOCK, 0x3000, 4096);
            ImageException other = assertThrows(ImageException.class,
                    () -> g.write(MetadataGuard.Structure.L2, 0x5000, 0x3000, ByteBuffer.allocate(8)));
            assertNames(other, "meant for the L2 table at 0x5000", "would land on the refcount block at 0x3000");
            ImageException nothing = assertThrows(ImageException.class,
                    () -> g.write(MetadataGuard.Structure.L2, 0x5000, 0x9000, ByteBuffer.allocate(8)));
            assertNames(nothing, "which holds no metadata");
            ImageException straddle = assertThrows(ImageException.class,
                    () -> g.write(MetadataGuard.Structure.L2, 0x5000, 0x5ff8, ByteBuffer.allocate(16)));
            assertNames(straddle, "0x6000");
            assertThrows(ImageException.class, () -> g.claim(MetadataGuard.Structure.SNAPSHOT_TABLE, 0x4000, 8192));
        }
        assertArrayEquals(before, Files.readAllBytes(img));
    }
}
