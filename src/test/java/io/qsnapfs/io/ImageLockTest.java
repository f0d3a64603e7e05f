package io.qsnapfs.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.ImageHolder;
import io.qsnapfs.testing.ProcLocks;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ImageLock} against the real QEMU 7.2 tools: both sides must see each other's locks. */
class ImageLockTest {
    /** The hint QEMU appends to every lock failure. */
    private static final String QEMU_HINT = "Is another process using the image";

    @TempDir
    Path dir;

    private Path image(String name) {
        Path img = Qemu.create(dir.resolve(name), "16M", "");
        Qemu.io(img, "write -P 0x5a 0 1M");
        return img;
    }

    /** What QEMU says when it cannot open {@code image} for a snapshot write: its reason, without the hint. */
    private static String qemuWriterReason(Path image) {
        Processes.Output r = Qemu.run(List.of("qemu-img", "snapshot", "-c", "probe", image.toString()));
        assertNotEquals(0, r.exitCode(), "qemu-img snapshot -c should be refused:\n" + r.stderr());
        assertTrue(r.stderr().contains(QEMU_HINT), r.stderr());
        // qemu-img: Could not open 'IMG': Failed to get "write" lock\nIs another process using the image [IMG]?
        String first = r.stderr().lines().findFirst().orElseThrow();
        return first.substring(first.lastIndexOf(": ") + 2);
    }

    @Test
    void takesExactlyTheBytesQemuWritersTake() throws IOException {
        Path img = image("same.qcow2");
        SortedSet<Long> qemu;
        try (ImageHolder holder = ImageHolder.qemuIo(img)) {
            qemu = ProcLocks.bytes(img);
        }
        assertEquals(new TreeSet<>(List.of(100L, 101L, 103L, 201L, 203L)), qemu, "what qemu-io holds read-write");
        assertTrue(ProcLocks.of(img).isEmpty(), "qemu-io released the image");
        try (PositionalFile file = PositionalFile.openReadWrite(img)) {
            assertTrue(file.descriptor() >= 0, "a read-write open always has a native descriptor");
            ImageLock lock = ImageLock.acquireForWrite(file.descriptor());
            assertEquals(qemu, ProcLocks.bytes(img), "ours are QEMU's");
            assertTrue(ProcLocks.of(img).stream().allMatch(e -> e.type().equals("READ")), ProcLocks.of(img).toString());
            lock.close();
            assertTrue(ProcLocks.of(img).isEmpty(), "close releases every lock: " + ProcLocks.of(img));
            lock.close();
            // The file itself stays open and usable.
            ByteBuffer b = file.read(0, 4);
            assertEquals(0x514649fb, b.getInt(), "qcow2 magic");
        }
    }

    @Test
    void refusedWhileQemuHoldsTheImageWithQemusReason() throws IOException {
        Path img = image("held.qcow2");
        List<Function<Path, ImageHolder>> holders = List.of(ImageHolder::qemuIo, ImageHolder::qemuIoReadOnly,
            p -> ImageHolder.qemuNbd(p, dir.resolve("nbd.sock")));
        for (Function<Path, ImageHolder> start : holders) {
            try (ImageHolder holder = start.apply(img)) {
                String qemuReason = qemuWriterReason(img);
                List<ProcLocks.Entry> theirs = ProcLocks.of(img);
                try (PositionalFile file = PositionalFile.openReadWrite(img)) {
                    LockConflictException e = assertThrows(LockConflictException.class,
                            () -> ImageLock.acquireForWrite(file.descriptor()), holder.description());
                    assertEquals(qemuReason, e.reason(), holder + ": the reason qemu-img snapshot -c gives");
                    assertEquals("Failed to get \"write\" lock", e.reason(), holder.description());
                    assertEquals(201, e.lockByte());
                    assertEquals(e.reason() + ". Is another process using the image?", e.getMessage());
                    assertEquals(theirs, ProcLocks.of(img), holder + ": a refused acquire leaves no lock behind");
                }
            }
            assertTrue(ProcLocks.of(img).isEmpty(), "the holder is gone");
        }
        try (PositionalFile file = PositionalFile.openReadWrite(img);
                ImageLock lock = ImageLock.acquireForWrite(file.descriptor())) {
            assertFalse(ProcLocks.of(img).isEmpty());
        }
    }

    @Test
    void qemuToolsAreRefusedWhileWeHoldTheImage() throws IOException {
        Path img = image("ours.qcow2");
        String path = img.toString();
        List<List<String>> refused = List.of(
                List.of("qemu-img", "info", path),
                List.of("qemu-io", "-c", "read 0 512", path),
                List.of("qemu-img", "snapshot", "-l", path),
                List.of("qemu-img", "snapshot", "-c", "x", path));
        byte[] before;
        try (PositionalFile file = PositionalFile.openReadWrite(img);
                ImageLock lock = ImageLock.acquireForWrite(file.descriptor())) {
            before = Files.readAllBytes(img);
            for (List<String> command : refused) {
                Processes.Output r = Qemu.run(command);
                assertNotEquals(0, r.exitCode(), command + " should be refused:\n" + r.stdout() + r.stderr());
                assertTrue(r.stderr().contains(QEMU_HINT), command + ":\n" + r.stderr());
                assertTrue(r.stderr().contains("Failed to get "), command + ":\n" + r.stderr());
            }
            Processes.Output shared = Qemu.run(List.of("qemu-img", "info", "-U", path));
            assertEquals(0, shared.exitCode(), "info -U shares everything:\n" + shared.stderr());
            assertTrue(shared.stdout().contains("file format: qcow2"), shared.stdout());
            assertArrayEquals(before, Files.readAllBytes(img), "nothing wrote the image");
        }
        for (List<String> command : refused) {
            Processes.Output r = Qemu.run(command);
            assertEquals(0, r.exitCode(), command + " after close:\n" + r.stdout() + r.stderr());
        }
        assertTrue(Qemu.img("snapshot", "-l", path).contains(" x "), "qemu-img snapshot -c x ran");
    }

    @Test
    void twoWritersInOneProcessExcludeEachOther() throws IOException {
        Path img = image("twice.qcow2");
        try (PositionalFile first = PositionalFile.openReadWrite(img); PositionalFile second = PositionalFile.openReadWrite(img)) {
            ImageLock lock = ImageLock.acquireForWrite(first.descriptor());
            LockConflictException e = assertThrows(LockConflictException.class,
                    () -> ImageLock.acquireForWrite(second.descriptor()));
            assertEquals("Failed to get \"write\" lock", e.reason());
            lock.close();
            try (ImageLock again = ImageLock.acquireForWrite(second.descriptor())) {
                assertEquals(5, ProcLocks.bytes(img).size());
            }
        }
    }

    @Test
    void withoutADescriptorLockingFailsInsteadOfSkipping() throws IOException {
        Path img = image("plain.qcow2");
        try (PositionalFile file = PositionalFile.wrap(img, java.nio.channels.FileChannel.open(img))) {
            IOException e = assertThrows(IOException.class, () -> ImageLock.acquireForWrite(file.descriptor()));
            assertFalse(e instanceof LockConflictException, e.toString());
            assertEquals("the file was opened without a native descriptor to lock", e.getMessage());
        }
    }

    @Test
    void openReadWriteFailsLikeJavaNio() {
        assertThrows(NoSuchFileException.class, () -> PositionalFile.openReadWrite(dir.resolve("missing.qcow2")));
        FileSystemException e = assertThrows(FileSystemException.class, () -> PositionalFile.openReadWrite(dir));
        assertEquals("Is a directory", e.getReason());
        assertEquals(dir.toString(), e.getFile());
    }
}
