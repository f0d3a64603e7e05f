package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.engine.MetadataGuard;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The write engine's operations one by one, judged by qemu-img. */
class WritableImageTest {
    @TempDir
    Path dir;

    private Path image(String options) {
        Path img = Qemu.create(dir.resolve("w.qcow2"), "8M", options);
        Qemu.io(img, "write -P 0x11 0 1M", "write -c -P 0x22 2M 2M", "write -z 5M 64k");
        return img;
    }

    @ParameterizedTest
    @CsvSource({ "cluster_size=65536", "cluster_size=512", "cluster_size=4096,refcount_bits=64",
            "cluster_size=2097152", "cluster_size=512,refcount_bits=2", "compat=0.10",
            "cluster_size=65536,extended_l2=on", "cluster_size=4096,refcount_bits=8,compression_type=zstd" })
    void createDeleteApply(String options) {
        Path img = image(options);
        byte[] before = Qemu.activeBytes(img, dir);
        SnapshotEntry created;
        try (WritableImage w = WritableImage.open(img)) {
            created = w.create("first");
        }
        assertEquals("1", created.idString());
        Oracle.assertClean(img);
        assertEquals(List.of("first"), Qemu.snapshotNames(img));
        assertArrayEquals(before, Qemu.snapshotBytes(img, "1", dir));

        Qemu.io(img, "write -P 0x33 0 256k", "discard 2M 64k");
        byte[] changed = Qemu.activeBytes(img, dir);
        try (WritableImage w = WritableImage.open(img)) {
            assertEquals("2", w.create("second").idString());
        }
        Oracle.assertClean(img);
        assertArrayEquals(before, Qemu.snapshotBytes(img, "1", dir));
        assertArrayEquals(changed, Qemu.snapshotBytes(img, "2", dir));

        try (WritableImage w = WritableImage.open(img)) {
            w.apply("first");
        }
        Oracle.assertClean(img);
        assertArrayEquals(before, Qemu.activeBytes(img, dir));

        try (WritableImage w = WritableImage.open(img)) {
            w.delete("1");
        }
        Oracle.assertClean(img);
        assertEquals(List.of("second"), Qemu.snapshotNames(img));
        assertArrayEquals(changed, Qemu.snapshotBytes(img, "2", dir));
        assertArrayEquals(before, Qemu.activeBytes(img, dir));

        try (WritableImage w = WritableImage.open(img)) {
            w.delete("second");
        }
        Oracle.assertClean(img);
        assertTrue(Qemu.snapshotNames(img).isEmpty());
    }

    @Test
    void oneBitRefcountsCannotHoldASnapshot() {
        Path img = image("refcount_bits=1");
        try (WritableImage w = WritableImage.open(img)) {
            ImageException e = assertThrows(ImageException.class, () -> w.create("x"));
            assertEquals(ImageException.Kind.INVALID_ARGUMENT, e.kind());
            assertTrue(e.getMessage().contains("refcount_bits=16"), e.getMessage());
        }
        Oracle.assertClean(img);
    }

    @Test
    void applyResizesLikeQemu() {
        Path img = image("");
        byte[] small = Qemu.activeBytes(img, dir);
        try (WritableImage w = WritableImage.open(img)) {
            w.create("small");
        }
        Qemu.resize(img, "1G");
        Qemu.io(img, "write -P 0x44 900M 1M");
        try (WritableImage w = WritableImage.open(img)) {
            w.create("big");
            w.apply("small");
        }
        Oracle.assertClean(img);
        assertArrayEquals(small, Qemu.activeBytes(img, dir));
        try (WritableImage w = WritableImage.open(img)) {
            w.apply("big");
            w.delete("small");
        }
        Oracle.assertClean(img);
        assertTrue(Qemu.img("info", img.toString()).contains("virtual size: 1 GiB"));
    }

    @Test
    void refcountTableGrowsAndMoves() throws Exception {
        Path img = Qemu.create(dir.resolve("g.qcow2"), "64M", "cluster_size=512,refcount_bits=64");
        long tableBefore;
        try (QcowImage q = QcowImage.open(img)) {
            tableBefore = q.header().refcountTableOffset();
        }
        int n = 0;
        long tableAfter = tableBefore;
        while (tableAfter == tableBefore && n < 200) {
            Qemu.io(img, "write -P " + (n + 1) + " " + (n * 256) + "k 256k");
            try (WritableImage w = WritableImage.open(img)) {
                w.create("s" + n);
            }
            Oracle.assertClean(img);
            try (QcowImage q = QcowImage.open(img)) {
                tableAfter = q.header().refcountTableOffset();
            }
            n++;
        }
        assertTrue(tableAfter != tableBefore, "the refcount table never moved");
        try (WritableImage w = WritableImage.open(img)) {
            w.delete("s0");
            w.apply("s1");
        }
        Oracle.assertClean(img);
    }

    /** The allocator alone: thousands of clusters force new refcount blocks and two table moves. */
    @ParameterizedTest
    @CsvSource({ "512,64", "512,16", "1024,64", "512,8" })
    void allocatorGrowsRefcountTable(int clusterSize, int refcountBits) throws Exception {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "64M",
                "cluster_size=" + clusterSize + ",refcount_bits=" + refcountBits);
        long tableBefore;
        long expected = 0;
        int allocations = 20000;
        try (ImageFile f = ImageFile.openReadWrite(img)) {
            io.qsnapfs.format.QcowHeader h = f.readHeader();
            tableBefore = h.refcountTableOffset();
            MetadataGuard guard = new MetadataGuard(f, h.clusterBits());
            guard.claim(MetadataGuard.Structure.HEADER, 0, h.clusterSize());
            RefcountEditor editor = RefcountEditor.load(f, h, f.length(), guard,
                    java.util.function.LongUnaryOperator.identity());
            editor.claimStructures();
            java.nio.ByteBuffer zeros = java.nio.ByteBuffer.allocate(clusterSize);
            for (int i = 0; i < allocations; i++) {
                int count = i % 500 == 499 ? 700 : 1 + i % 3; // long runs span ranges with no block
                expected += count;
                editor.reserveTableFor(count);
                long offset = editor.allocate(count);
                for (int k = 0; k < count; k++) {
                    f.file().writeFully(offset + (long) k * clusterSize, zeros.clear());
                }
            }
            editor.flush();
        }
        String check = Qemu.run(List.of("qemu-img", "check", "--output=json", img.toString())).stdout();
        assertTrue(check.contains("\"check-errors\": 0") && !check.matches("(?s).*\"corruptions\": [1-9].*"),
                check);
        try (QcowImage q = QcowImage.open(img)) {
            assertTrue(q.header().refcountTableOffset() != tableBefore, "the refcount table did not move");
        }
        String leaks = check.replaceAll("(?s).*\"leaks\": (\\d+).*", "$1");
        assertEquals(Long.toString(expected), leaks, check);
    }

    /** Unknown autoclear bits are cleared by the first write; the bitmaps bit stays, and so do the bitmaps. */
    @Test
    void unknownAutoclearBitsAreClearedBitmapsKept() {
        Path img = image("");
        Qemu.img("bitmap", "--add", img.toString(), "b0");
        long autoclear = io.qsnapfs.testing.Poke.readU64(img, 88);
        assertEquals(1, autoclear & 1, "qemu-img sets the bitmaps bit");
        io.qsnapfs.testing.Poke.u64(img, 88, autoclear | 0x4 | (1L << 40));
        try (WritableImage w = WritableImage.open(img)) {
            w.create("s");
        }
        assertEquals(autoclear, io.qsnapfs.testing.Poke.readU64(img, 88));
        assertTrue(Qemu.img("info", img.toString()).contains("b0"));
        Oracle.assertClean(img);
    }

    /** Images that must not be written are refused before anything is written. */
    @ParameterizedTest
    @CsvSource({ "2,CORRUPT,marked corrupt", "1,UNSUPPORTED,not closed cleanly" })
    void corruptAndDirtyImagesAreRefusedUntouched(long bit, String kind, String phrase) throws Exception {
        Path img = image("lazy_refcounts=on");
        Qemu.snapshot(img, "q");
        io.qsnapfs.testing.Poke.u64(img, 72, io.qsnapfs.testing.Poke.readU64(img, 72) | bit);
        byte[] before = java.nio.file.Files.readAllBytes(img);
        ImageException e = assertThrows(ImageException.class, () -> WritableImage.open(img).close());
        assertEquals(ImageException.Kind.valueOf(kind), e.kind());
        assertTrue(e.getMessage().contains(phrase) && e.getMessage().contains("qemu-img check -r all"), e.getMessage());
        assertArrayEquals(before, java.nio.file.Files.readAllBytes(img));
    }

    @Test
    void externalDataFileIsRefusedUntouched() throws Exception {
        Path img = dir.resolve("d.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "data_file=" + dir.resolve("d.raw"), img.toString(), "4M");
        byte[] before = java.nio.file.Files.readAllBytes(img);
        ImageException e = assertThrows(ImageException.class, () -> WritableImage.open(img).close());
        assertEquals(ImageException.Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("external data file"), e.getMessage());
        assertArrayEquals(before, java.nio.file.Files.readAllBytes(img));
    }
}
