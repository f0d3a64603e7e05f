package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.qmp.QmpClient;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Creates and deletes handed to the QEMU of a real running VM (qemu-system-x86_64, TCG, no guest
 * kernel) over QMP: found from its command line or named, on a {@code -drive} and on a
 * {@code -blockdev} node; the snapshot reads what the disk held; our rules and errnos; BUSY for a
 * held monitor, for no monitor and for a monitor of another VM; and {@code qemu-img check} clean
 * after the VM quits.
 */
class QemuHandoffTest {
    private static final Duration LIMIT = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    private Path image(String name) {
        Path img = Qemu.create(dir.resolve(name), "16M", "");
        Qemu.io(img, "write -P 0x11 0 1M");
        return img;
    }

    /** What {@link WritableImage#open} throws while the VM holds the image. */
    private static ImageException busy(Path image) {
        ImageException e = assertThrows(ImageException.class, () -> WritableImage.open(image).close());
        assertTrue(QemuHandoff.heldByAnother(e), e.getMessage());
        return e;
    }

    private static byte[] snapshotBytes(Path image, String name, int length) {
        try (QcowImage img = QcowImage.open(image)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            img.snapshotView(img.findByName(name)).read(0, b);
            return b.array();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void createAndDeleteByTheQemuFoundOnTheCommandLine() {
        Path img = image("vm.qcow2");
        Path socket = dir.resolve("vm.qmp");
        try (QemuVm vm = QemuVm.on(img).qmp(socket).start()) {
            vm.qemuIo("write -P 0x5a 0 64k");
            vm.qemuIo("write -P 0x77 8M 192k"); // new clusters and a new L2 table, in QEMU's caches
            ImageException busy = busy(img);
            try (QemuHandoff qemu = QemuHandoff.reach(img, null, LIMIT, busy)) {
                assertEquals("QEMU pid " + vm.pid(), qemu.by());
                QemuHandoff.Done made = qemu.create("nightly");
                assertEquals("1", made.snapshot().idString());
                assertEquals("nightly", made.snapshot().nameString());
                assertEquals("QEMU pid " + vm.pid(), made.by());
                assertEquals(0, made.snapshot().vmStateSize(), "disk-only");

                byte[] expected = new byte[9 << 20];
                Arrays.fill(expected, 0, 1 << 20, (byte) 0x11);
                Arrays.fill(expected, 0, 64 << 10, (byte) 0x5a);
                Arrays.fill(expected, 8 << 20, (8 << 20) + (192 << 10), (byte) 0x77);
                assertArrayEquals(expected, snapshotBytes(img, "nightly", expected.length), "what the disk held");
                vm.qemuIo("write -P 0x66 0 1M");
                assertArrayEquals(expected, snapshotBytes(img, "nightly", expected.length), "kept while the VM writes");

                ImageException taken = assertThrows(ImageException.class, () -> qemu.create("nightly"));
                assertEquals(ImageException.Kind.EXISTS, taken.kind());
                assertEquals("vm.qcow2: a snapshot named 'nightly' exists already (ID 1)", taken.getMessage());
                ImageException unknown = assertThrows(ImageException.class, () -> qemu.delete("nosuch"));
                assertEquals(ImageException.Kind.NOT_FOUND, unknown.kind());
                ImageException empty = assertThrows(ImageException.class, () -> qemu.create(""));
                assertEquals(ImageException.Kind.INVALID_ARGUMENT, empty.kind());

                qemu.create("weekly");
                assertEquals(List.of("nightly", "weekly"), names(Qemu.snapshotsWhileHeld(img)));
                QemuHandoff.Done deleted = qemu.delete("1"); // by ID
                assertEquals("nightly", deleted.snapshot().nameString());
                assertEquals(List.of("weekly"), names(Qemu.snapshotsWhileHeld(img)));
            }
        }
        assertEquals(List.of("weekly"), names(Qemu.snapshots(img)));
        Oracle.assertClean(img, "after the VM's snapshots");
    }

    @Test
    void aNamedSocketOverridesAndANodeWithoutADeviceIsFound() throws IOException {
        Path img = image("node.qcow2");
        Path hidden = dir.resolve("hidden.qmp");
        Path named = dir.resolve("node.qmp");
        try (QemuVm vm = QemuVm.on(img).block("-blockdev", "driver=file,node-name=f0,filename=" + img,
                "-blockdev", "driver=qcow2,node-name=q0,file=f0").qmp(hidden).start()) {
            Files.move(hidden, named); // the path on QEMU's command line leads nowhere now
            ImageException busy = busy(img);
            ImageException lost = assertThrows(ImageException.class, () -> QemuHandoff.reach(img, null, LIMIT, busy));
            assertEquals(ImageException.Kind.BUSY, lost.kind());
            assertTrue(lost.getMessage().contains(hidden.toString()), lost.getMessage());
            try (QemuHandoff qemu = QemuHandoff.reach(img, named, LIMIT, busy)) {
                assertEquals("QEMU pid " + vm.pid(), qemu.by(), "the one process that holds the image");
                assertEquals("1", qemu.create("s").snapshot().idString());
                assertEquals("s", qemu.delete("s").snapshot().nameString());
            }
        }
        assertEquals(List.of(), names(Qemu.snapshots(img)));
        Oracle.assertClean(img, "after the node's snapshots");
    }

    @Test
    void aStaleNamedSocketFallsBackToTheCommandLine() throws IOException {
        Path img = image("stale.qcow2");
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            gone.bind(UnixDomainSocketAddress.of(stale)); // its file stays after the close: nobody listens
        }
        try (QemuVm vm = QemuVm.on(img).qmp(dir.resolve("stale.qmp")).start();
                QemuHandoff qemu = QemuHandoff.reach(img, stale, LIMIT, busy(img))) {
            assertEquals("QEMU pid " + vm.pid(), qemu.by());
            assertEquals("1", qemu.create("s").snapshot().idString());
        }
        assertEquals(List.of("s"), names(Qemu.snapshots(img)));
    }

    @Test
    void aMonitorSetUpWithChardevAndMonIsFound() {
        Path img = image("chardev.qcow2");
        Path socket = dir.resolve("chardev.sock");
        try (QemuVm vm = QemuVm.on(img).args("-chardev", "socket,id=qmp0,path=" + socket + ",server=on,wait=off",
                "-mon", "chardev=qmp0,mode=control").start();
                QemuHandoff qemu = QemuHandoff.reach(img, null, LIMIT, busy(img))) {
            assertEquals("QEMU pid " + vm.pid(), qemu.by());
            assertEquals("c", qemu.create("c").snapshot().nameString());
        }
        assertEquals(List.of("c"), names(Qemu.snapshots(img)));
        Oracle.assertClean(img, "after a snapshot through a -chardev/-mon monitor");
    }

    @Test
    void aSharedNameIsRefusedBeforeQemuIsAsked() {
        Path img = image("dup.qcow2");
        Qemu.snapshot(img, "dup");
        Qemu.snapshot(img, "dup"); // qemu-img makes a second one of the same name
        try (QemuVm vm = QemuVm.on(img).qmp(dir.resolve("dup.qmp")).start();
                QemuHandoff qemu = QemuHandoff.reach(img, null, LIMIT, busy(img))) {
            ImageException shared = assertThrows(ImageException.class, () -> qemu.delete("dup"));
            assertEquals(ImageException.Kind.INVALID_ARGUMENT, shared.kind());
            assertTrue(shared.getMessage().contains("IDs 1, 2; give the ID"), shared.getMessage());
            assertEquals("dup", qemu.delete("2").snapshot().nameString());
        }
        assertEquals(List.of("dup"), names(Qemu.snapshots(img)));
    }

    @Test
    void busyMonitorsNoMonitorAndAnotherVmsMonitorAreBusy() throws Exception {
        Path img = image("busy.qcow2");
        Path a = dir.resolve("a.qmp");
        Path b = dir.resolve("b.qmp");
        try (QemuVm vm = QemuVm.on(img).qmp(a).qmp(b).start();
                QmpClient holdA = QmpClient.connect(a, LIMIT); QmpClient holdB = QmpClient.connect(b, LIMIT)) {
            ImageException busy = busy(img);
            long start = System.nanoTime();
            ImageException e = assertThrows(ImageException.class,
                    () -> QemuHandoff.reach(img, null, Duration.ofSeconds(1), busy));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(ImageException.Kind.BUSY, e.kind());
            assertTrue(e.getMessage().startsWith("busy.qcow2: in use by another process (pid " + vm.pid()
                    + ", qemu-system-x86: Failed to get \"write\" lock), and no QMP monitor can take the request: "),
                    e.getMessage());
            assertTrue(e.getMessage().contains(a.toString()) && e.getMessage().contains(b.toString()), e.getMessage());
            assertTrue(ms < 6000, "two monitors of 1 s each took " + ms + " ms");
            assertSame(busy, e.getCause());
        }

        // the image only as the backing file of the VM's disk: QEMU has it read-only
        Path overlay = dir.resolve("overlay.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", img.toString(), "-F", "qcow2", overlay.toString());
        try (QemuVm vm = QemuVm.on(overlay).qmp(dir.resolve("overlay.qmp")).start()) {
            ImageException e = assertThrows(ImageException.class, () -> QemuHandoff.reach(img, null, LIMIT, busy(img)));
            assertEquals(ImageException.Kind.BUSY, e.kind());
            assertTrue(e.getMessage().contains("this QEMU has the image only read-only (a backing file of another disk?)"),
                    e.getMessage());
        }

        try (QemuVm vm = QemuVm.start(img)) {
            ImageException e = assertThrows(ImageException.class, () -> QemuHandoff.reach(img, null, LIMIT, busy(img)));
            assertEquals(ImageException.Kind.BUSY, e.kind());
            assertTrue(e.getMessage().contains("in use by another process (pid " + vm.pid() + ", qemu-system-x86: "),
                    e.getMessage());
            assertTrue(e.getMessage().contains("with no QMP monitor on a unix socket"), e.getMessage());

            ImageException apply = QemuHandoff.applyRefusal(img, busy(img));
            assertEquals(ImageException.Kind.BUSY, apply.kind());
            assertEquals("busy.qcow2: in use by QEMU pid " + vm.pid() + " (Failed to get \"write\" lock); a snapshot"
                    + " cannot be applied under a running VM: stop the VM and try again, or use loadvm in its monitor",
                    apply.getMessage());

            // a monitor named for this image that belongs to a VM on another one
            Path other = image("other.qcow2");
            Path otherSocket = dir.resolve("other.qmp");
            try (QemuVm otherVm = QemuVm.on(other).qmp(otherSocket).start()) {
                ImageException wrong = assertThrows(ImageException.class,
                        () -> QemuHandoff.reach(img, otherSocket, LIMIT, busy(img)));
                assertEquals(ImageException.Kind.BUSY, wrong.kind());
                assertTrue(wrong.getMessage().contains(otherSocket + ": this QEMU has no disk whose image is " + img),
                        wrong.getMessage());
            }
        }
        assertFalse(QemuHandoff.heldByAnother(new ImageException(ImageException.Kind.BUSY, "a file open here")),
                "BUSY without a lock conflict is ours to answer");
        Oracle.assertClean(img, "nothing written");
    }

    private static List<String> names(List<Qemu.Listed> listed) {
        return listed.stream().map(Qemu.Listed::name).toList();
    }
}
