package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FileHolder#of} finds the real QEMU that holds an image: its pid, its command, its locks,
 * and the QMP sockets its command line sets up, in order, each of which answers as a QMP monitor:
 * {@code -qmp unix:} and a {@code -chardev} socket with {@code -mon mode=control} (a comma in the
 * path), none for a VM with only a human monitor, a relative socket path resolved in QEMU's
 * working directory. A process without locks comes after, whatever its pid; this JVM and files
 * nobody has open give nothing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FileHolderTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private Path image() {
        return Qemu.create(dir.resolve("vm.qcow2"), "1M", null);
    }

    private static FileHolder only(List<FileHolder> holders) {
        assertEquals(1, holders.size(), holders.toString());
        return holders.get(0);
    }

    private static void assertQemu(QemuVm vm, FileHolder h) {
        assertEquals(vm.pid(), h.pid(), h.toString());
        assertEquals("qemu-system-x86", h.command());
        assertTrue(h.locks(), h + " holds the image's locks");
    }

    @Test
    void aQemuWithTwoQmpMonitors() throws Exception {
        Path img = image();
        Path qmp = dir.resolve("qmp.sock");
        Path mon = dir.resolve("mon,itor.sock");
        try (QemuVm vm = QemuVm.on(img).qmp(qmp).args(
                "-chardev", "socket,id=m,path=" + mon.toString().replace(",", ",,") + ",server=on,wait=off",
                "-mon", "chardev=m,mode=control").start()) {
            FileHolder h = only(FileHolder.of(img));
            assertQemu(vm, h);
            assertEquals(List.of(qmp, mon), h.qmpSockets());
            assertEquals("qemu-system-x86 (pid " + vm.pid() + ")", h.toString());
            for (Path socket : h.qmpSockets()) {
                try (QmpClient client = QmpClient.connect(socket, TIMEOUT)) {
                    assertEquals(img.toString(), client.execute("query-block", null, TIMEOUT).path(0).path("inserted")
                            .path("file").asText());
                }
            }
        }
    }

    @Test
    void aQemuWithOnlyAHumanMonitorAndAProcessWithoutLocks() throws Exception {
        Path img = image();
        // started first, so its pid is most likely the lower one
        Process reader = new ProcessBuilder("sleep", "60").redirectInput(img.toFile()).start();
        try (QemuVm vm = QemuVm.start(img)) {
            List<FileHolder> holders = awaitCommand(img, "sleep");
            assertEquals(2, holders.size(), holders.toString());
            assertQemu(vm, holders.get(0));
            assertEquals(List.of(), holders.get(0).qmpSockets(), "-monitor is a human monitor");
            FileHolder sleep = holders.get(1);
            assertEquals(reader.pid(), sleep.pid());
            assertFalse(sleep.locks());
            assertEquals(List.of(), sleep.qmpSockets());
        } finally {
            reader.destroyForcibly().waitFor();
        }
    }

    /**
     * The holders of {@code file} once the one that is not QEMU shows {@code command}: a child
     * shows the JVM's spawn helper until it has run its program.
     */
    private static List<FileHolder> awaitCommand(Path file, String command) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            List<FileHolder> holders = FileHolder.of(file);
            if (holders.stream().anyMatch(h -> h.command().equals(command))) {
                return holders;
            }
            if (System.nanoTime() > deadline) {
                fail("no " + command + " among the holders of " + file + " within 10 s: " + holders);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void aRelativeSocketIsResolvedInQemusWorkingDirectory() throws Exception {
        Path img = image();
        Path work = Files.createDirectory(dir.resolve("work"));
        try (QemuVm vm = QemuVm.on(img).workingDirectory(work).args("-qmp", "unix:relative.sock,server=on,wait=off")
                .start()) {
            FileHolder h = only(FileHolder.of(img));
            assertQemu(vm, h);
            assertEquals(List.of(work.resolve("relative.sock")), h.qmpSockets());
            assertTrue(h.qmpSockets().get(0).isAbsolute());
            try (QmpClient client = QmpClient.connect(h.qmpSockets().get(0), TIMEOUT)) {
                assertFalse(client.qemuVersion().isEmpty());
            }
        }
    }

    @Test
    void nobodyElse() throws Exception {
        Path file = Files.write(dir.resolve("plain"), new byte[] {1});
        assertEquals(List.of(), FileHolder.of(file));
        try (FileChannel ours = FileChannel.open(file, StandardOpenOption.READ)) {
            assertEquals(List.of(), FileHolder.of(file), "this JVM is left out");
        }
        Path missing = dir.resolve("missing");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> FileHolder.of(missing));
        assertEquals(missing.toString(), e.getFile());
    }
}
