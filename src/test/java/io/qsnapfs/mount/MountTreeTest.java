package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.SnapshotEntryPoker;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mount's file tree without FUSE: naming rules, attributes, refusals and refresh. */
class MountTreeTest {
    @TempDir
    Path dir;

    private final List<String> logged = new ArrayList<>();

    private MountTree tree(boolean readOnly) {
        RequestLog log = new RequestLog(logged::add);
        return new MountTree(new ImageCatalog(dir, log), log, readOnly);
    }

    @Test
    void namesThatAreNotSafeOrNotUniqueAppearOnlyById() {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        for (String name : List.of("good", "dup", "dup", "..", "a/b", "ünïcode name")) {
            Qemu.snapshot(img, name);
        }
        MountTree t = tree(false);
        Node.Dir snapshots = (Node.Dir) t.resolve("/vm.qcow2/snapshots");
        assertEquals(List.of("good.raw", "ünïcode name.raw"), t.list(snapshots));
        assertEquals(List.of("1.raw", "2.raw", "3.raw", "4.raw", "5.raw", "6.raw"),
                t.list(t.resolve("/vm.qcow2/by-id")));
        assertThrows(ImageException.class, () -> t.resolve("/vm.qcow2/snapshots/dup.raw"));
        Node.SnapshotFile f = (Node.SnapshotFile) t.resolve("/vm.qcow2/by-id/4.raw");
        assertEquals("..", f.snapshot().nameString());
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void snapshotFilesCarryTheirFactsAsExtendedAttributes() {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.io(img, "write -P 1 0 1M");
        Qemu.snapshot(img, "s");
        Qemu.snapshot(img, "t");
        Qemu.resize(img, "8M");
        Qemu.io(img, "write -P 2 0 1M");
        SnapshotEntryPoker.of(img).icount(1, -1).vmClockNsec(0, -1L).vmStateSize(1, 12345);
        MountTree t = tree(false);
        Node s = t.resolve("/vm.qcow2/snapshots/s.raw");
        assertEquals(List.of("user.qsnapfs.id", "user.qsnapfs.name", "user.qsnapfs.date", "user.qsnapfs.vm_clock",
                "user.qsnapfs.vm_state_size", "user.qsnapfs.disk_size", "user.qsnapfs.icount",
                "user.qsnapfs.exclusive_bytes"), t.xattrNames(s));
        SnapshotEntry entry = ((Node.SnapshotFile) s).snapshot();
        assertEquals("1", text(t.xattr(s, "user.qsnapfs.id")));
        assertEquals("s", text(t.xattr(s, "user.qsnapfs.name")));
        assertEquals(Instant.ofEpochSecond(entry.dateSec(), entry.dateNsec()).toString(),
                text(t.xattr(s, "user.qsnapfs.date")));
        assertEquals("18446744073709551615", text(t.xattr(s, "user.qsnapfs.vm_clock")));
        assertEquals("0", text(t.xattr(s, "user.qsnapfs.vm_state_size")));
        assertEquals(Long.toString(4 << 20), text(t.xattr(s, "user.qsnapfs.disk_size")));
        assertEquals(Long.toString(entry.icount()), text(t.xattr(s, "user.qsnapfs.icount")));
        // s and t share the clusters the active layer overwrote: each owns only its L1 table
        assertEquals("65536", text(t.xattr(s, "user.qsnapfs.exclusive_bytes")));

        Node byId = t.resolve("/vm.qcow2/by-id/2.raw");
        assertFalse(t.xattrNames(byId).contains("user.qsnapfs.icount"), "unknown icount: no attribute");
        assertEquals(ImageException.Kind.NO_ATTRIBUTE,
                assertThrows(ImageException.class, () -> t.xattr(byId, "user.qsnapfs.icount")).kind());
        assertEquals("12345", text(t.xattr(byId, "user.qsnapfs.vm_state_size")));
        assertEquals("t", text(t.xattr(byId, "user.qsnapfs.name")));
        for (String name : t.xattrNames(byId)) {
            assertNotNull(t.xattr(byId, name), name);
        }
        for (String other : List.of("/", "/vm.qcow2", "/vm.qcow2/by-id", "/vm.qcow2/control/create",
                "/vm.qcow2/control/log")) {
            Node n = t.resolve(other);
            assertEquals(List.of(), t.xattrNames(n), other);
            assertEquals(ImageException.Kind.NO_ATTRIBUTE,
                    assertThrows(ImageException.class, () -> t.xattr(n, "user.qsnapfs.id")).kind(), other);
        }
        assertEquals(ImageException.Kind.NO_ATTRIBUTE,
                assertThrows(ImageException.class, () -> t.xattr(s, "user.other")).kind());
        assertEquals(ImageException.Kind.NO_ATTRIBUTE,
                assertThrows(ImageException.class, () -> t.xattr(s, "security.selinux")).kind());
    }

    @Test
    void snapshotFilesAreReadOnlyWithTheSnapshotsSizeAndDate() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.io(img, "write -P 0x42 0 64k");
        Qemu.snapshot(img, "s");
        Qemu.resize(img, "8M");
        MountTree t = tree(false);
        Node node = t.resolve("/vm.qcow2/snapshots/s.raw");
        Attributes a = t.attributes(node);
        assertFalse(a.directory());
        assertEquals(0444, a.mode());
        assertEquals(4 << 20, a.size(), "the snapshot's own disk size, not the resized image's");
        assertEquals(((Node.SnapshotFile) node).snapshot().dateSec(), a.mtimeSec());
        assertTrue(a.blocks() > 0);
        assertEquals(0755, t.attributes(t.resolve("/vm.qcow2/control/create")).mode());
        assertEquals(0555, tree(true).attributes(tree(true).resolve("/vm.qcow2/control/create")).mode());

        ImageException e = assertThrows(ImageException.class, () -> t.open("/vm.qcow2/snapshots/s.raw", 1));
        assertEquals(ImageException.Kind.READ_ONLY, e.kind());
        assertEquals(ImageException.Kind.READ_ONLY,
                assertThrows(ImageException.class, () -> t.open("/vm.qcow2/snapshots/s.raw", 01000)).kind());
        OpenFile f = t.open("/vm.qcow2/snapshots/s.raw", 0);
        ByteBuffer b = ByteBuffer.allocate(100);
        assertEquals(100, f.read(0, b));
        assertEquals(0x42, b.get(0));
        assertFalse(f.keepCache(), "first open of a path");
        f.close();
        OpenFile again = t.open("/vm.qcow2/snapshots/s.raw", 0);
        assertTrue(again.keepCache(), "same snapshot at the same path: keep the page cache");
        again.close();
    }

    @Test
    void unknownPathsAndNonImagesAreNotFound() throws Exception {
        Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Files.writeString(dir.resolve("notes.txt"), "hello");
        Files.write(dir.resolve("broken.qcow2"), new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        MountTree t = tree(false);
        assertEquals(List.of("vm.qcow2"), t.list(t.resolve("/")));
        for (String p : List.of("/notes.txt", "/broken.qcow2", "/vm.qcow2/nope", "/vm.qcow2/snapshots/x.raw",
                "/vm.qcow2/control/create/x", "/vm.qcow2/snapshots/a/b")) {
            assertEquals(ImageException.Kind.NOT_FOUND, assertThrows(ImageException.class, () -> t.resolve(p)).kind(), p);
        }
        assertEquals(1, logged.size(), "the broken image is logged once: " + logged);
        assertTrue(logged.get(0).contains("broken.qcow2"), logged.get(0));
        t.list(t.resolve("/"));
        assertEquals(1, logged.size(), "and not again while it stays the same");
    }

    @Test
    void changesByOtherProgramsShowUpAfterTheRefreshInterval() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.snapshot(img, "one");
        MountTree t = tree(false);
        assertEquals(List.of("one.raw"), t.list(t.resolve("/vm.qcow2/snapshots")));
        OpenFile open = t.open("/vm.qcow2/snapshots/one.raw", 0);
        Qemu.snapshot(img, "two");
        Qemu.create(dir.resolve("new.qcow2"), "1M", "");
        Thread.sleep(ImageCatalog.REFRESH_NANOS / 1_000_000 + 100);
        assertEquals(List.of("one.raw", "two.raw"), t.list(t.resolve("/vm.qcow2/snapshots")));
        assertEquals(List.of("new.qcow2", "vm.qcow2"), t.list(t.resolve("/")));
        // the file opened before the change still reads from the image it was opened on
        assertEquals(10, open.read(0, ByteBuffer.allocate(10)));
        open.close();
    }

    @Test
    void aSnapshotDeletedByAnotherProgramFailsTheReadsOfItsOpenFile() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.io(img, "write -P 0x11 0 1M");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 0x22 0 1M");
        Qemu.snapshot(img, "two");
        MountTree t = tree(false);
        OpenFile one = t.open("/vm.qcow2/snapshots/one.raw", 0);
        OpenFile two = t.open("/vm.qcow2/snapshots/two.raw", 0);
        assertEquals(0x11, readByte(one, 0));

        Qemu.deleteSnapshot(img, "one");
        Qemu.io(img, "write -P 0x33 0 2M"); // may reuse what "one" held
        waitUntilOpenFilesLookAgain();
        ImageException e = assertThrows(ImageException.class, () -> readByte(one, 4096));
        assertEquals(ImageException.Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("vm.qcow2: snapshot 'one' (ID 1) was deleted by another program"),
                e.getMessage());
        assertEquals(ImageException.Kind.IO,
                assertThrows(ImageException.class, () -> readByte(one, 0)).kind(), "and it stays so");
        assertEquals(0x22, readByte(two, 4096), "a snapshot that still exists reads on");
        one.close();
        two.close();
    }

    @Test
    void anImageReplacedOrRemovedUnderAnOpenFileKeepsServingTheFileHeldOpen() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.io(img, "write -P 0x11 0 1M");
        Qemu.snapshot(img, "one");
        MountTree t = tree(false);
        OpenFile one = t.open("/vm.qcow2/snapshots/one.raw", 0);
        Path other = Qemu.create(dir.resolve("other.tmp"), "4M", "");
        Files.move(other, img, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        waitUntilOpenFilesLookAgain();
        assertEquals(0x11, readByte(one, 0), "the replaced file, still open here, has not changed");
        Files.delete(img);
        waitUntilOpenFilesLookAgain();
        assertEquals(0x11, readByte(one, 8192));
        one.close();
    }

    /** Past the catalog's refresh interval and an open file's recheck interval (0.1 s), with margin. */
    private static void waitUntilOpenFilesLookAgain() throws InterruptedException {
        Thread.sleep(ImageCatalog.REFRESH_NANOS / 1_000_000 + 300);
    }

    private static int readByte(OpenFile f, long offset) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(1);
        assertEquals(1, f.read(offset, b));
        return b.get(0) & 0xff;
    }

    @Test
    void theLogListsEventsWithTime() {
        RequestLog log = new RequestLog(l -> { });
        log.add("create web01.qcow2 nightly: ok");
        String text = new String(log.text(), StandardCharsets.UTF_8);
        assertTrue(text.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z create web01.qcow2 nightly: ok\n"), text);
        assertNull(SnapshotNames.fileName(new byte[0]));
        assertNull(SnapshotNames.fileName(new byte[] {(byte) 0xff}));
        assertNotNull(SnapshotNames.fileName("x".repeat(251).getBytes(StandardCharsets.UTF_8)));
        assertNull(SnapshotNames.fileName("x".repeat(252).getBytes(StandardCharsets.UTF_8)));
    }
}
