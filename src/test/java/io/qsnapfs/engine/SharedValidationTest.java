package io.qsnapfs.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.check.ConsistencyCheck;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.engine.write.WritableImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.SnapshotEntryPoker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cases after QEMU's iotests 080 and 261 where the reader, the check and the writer must agree,
 * because they validate through the one header parser: an image QEMU refuses is refused by
 * {@code info}, {@code check} and every write (the file untouched); and entries QEMU completes
 * when it rewrites the snapshot table are completed by our writer the same way.
 */
class SharedValidationTest {
    private static final int BACKING_FILE_OFFSET = 8;
    private static final int BACKING_FILE_SIZE = 16;
    private static final int L1_SIZE = 36;
    private static final int L1_TABLE_OFFSET = 40;
    private static final int NB_SNAPSHOTS = 60;
    private static final int SNAPSHOTS_OFFSET = 64;
    private static final int HEADER_LENGTH = 100;

    @TempDir
    Path dir;

    /** QEMU refuses the image, saying {@code qemuSays}; so does every part of ours, and no write touches it. */
    private void refusedEverywhere(Path img, String qemuSays, String weSay) throws IOException {
        Processes.Output qemu = Qemu.run(List.of("qemu-img", "info", img.toString()));
        assertNotEquals(0, qemu.exitCode());
        assertTrue(qemu.stderr().contains(qemuSays), "qemu-img says: " + qemu.stderr());
        ImageException read = assertThrows(ImageException.class, () -> QcowImage.open(img).close());
        assertTrue(read.getMessage().contains(weSay), read.getMessage());
        ImageException check = assertThrows(ImageException.class, () -> ConsistencyCheck.run(img));
        assertTrue(check.getMessage().contains(weSay), check.getMessage());
        for (Consumer<WritableImage> op : List.<Consumer<WritableImage>>of(w -> w.create("new"),
                w -> w.delete("1"), w -> w.apply("1"))) {
            byte[] before = Files.readAllBytes(img);
            ImageException e = assertThrows(ImageException.class, () -> {
                try (WritableImage w = WritableImage.open(img)) {
                    op.accept(w);
                }
            });
            assertTrue(e.getMessage().contains(weSay), e.getMessage());
            assertArrayEquals(before, Files.readAllBytes(img), "a refused write changed the file");
        }
    }

    @Test
    void backingFileNameInsideAnExtensionThatClaimsTooMuch() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        long headerLength = Poke.readU32(img, HEADER_LENGTH);
        Poke.u32(img, headerLength, 0x12345678L);
        Poke.u32(img, headerLength + 4, 0x7fffffffL);
        Poke.u64(img, BACKING_FILE_OFFSET, headerLength + 4);
        Poke.u32(img, BACKING_FILE_SIZE, 8);
        refusedEverywhere(img, "Header extension too large", "header extension too large");
    }

    @Test
    void extensionThatClaimsTooMuchWithoutABackingFile() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        long headerLength = Poke.readU32(img, HEADER_LENGTH);
        Poke.u32(img, headerLength, 0x12345678L);
        Poke.u32(img, headerLength + 4, 0x7fffffffL);
        refusedEverywhere(img, "Header extension too large", "header extension too large");
    }

    @Test
    void misalignedSnapshotTableOffsetWithNoSnapshots() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "4M", "");
        assertEquals(0, Poke.readU32(img, NB_SNAPSHOTS));
        Poke.u64(img, SNAPSHOTS_OFFSET, 0x10001);
        refusedEverywhere(img, "Snapshot table offset invalid", "snapshot table offset 0x10001 is not a multiple");
    }

    @Test
    void misalignedL1TableOffsetOfAnEmptyL1Table() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "0", "");
        assertEquals(0, Poke.readU32(img, L1_SIZE));
        Poke.u64(img, L1_TABLE_OFFSET, Poke.readU64(img, L1_TABLE_OFFSET) + 1);
        refusedEverywhere(img, "L1 table offset invalid", "L1 table offset");
    }

    /**
     * A version 3 entry with only 8 bytes of extra data (no disk size): qemu-img check and ours
     * report it; a create rewrites it with 24 bytes, its disk size the image's, its icount -1, as
     * {@code qemu-img snapshot -c} does, and both results check clean.
     */
    @Test
    void shortExtraDataIsCompletedOnRewriteLikeQemu() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "4M", "");
        Qemu.io(img, "write -P 0x11 0 64k");
        Qemu.snapshot(img, "old");
        SnapshotEntryPoker.of(img).shortenExtraData(0, 8);
        assertTrue(Qemu.run(List.of("qemu-img", "check", img.toString())).exitCode() != 0);
        assertTrue(ConsistencyCheck.run(img).corruptions() > 0);

        Path theirs = dir.resolve("theirs.qcow2");
        Files.copy(img, theirs);
        Qemu.snapshot(theirs, "new");
        try (WritableImage w = WritableImage.open(img)) {
            w.create("new");
        }
        Oracle.assertClean(theirs);
        Oracle.assertClean(img);
        SnapshotEntry ours = firstEntry(img);
        SnapshotEntry qemu = firstEntry(theirs);
        assertEquals(24, qemu.extraData().length, "what QEMU writes");
        assertEquals(qemu.extraData().length, ours.extraData().length);
        assertEquals(qemu.diskSize(), ours.diskSize());
        assertEquals(4 << 20, ours.diskSize());
        assertEquals(qemu.icount(), ours.icount());
        assertEquals(qemu.vmStateSize(), ours.vmStateSize());
        assertArrayEquals(Qemu.snapshotBytes(theirs, "1", dir), Qemu.snapshotBytes(img, "1", dir));
    }

    private static SnapshotEntry firstEntry(Path img) throws IOException {
        try (QcowImage image = QcowImage.open(img)) {
            return image.snapshots().get(0);
        }
    }
}
