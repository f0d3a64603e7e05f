package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageException.Kind;
import io.qsnapfs.engine.read.ExtentSink;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Disk;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import io.qsnapfs.testing.SnapshotEntryPoker;
import io.qsnapfs.testing.TableWalk;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mount's {@code vm-state/} directory without FUSE, on snapshots a real QEMU saved: the files
 * hold exactly the bytes the independent walker finds at each snapshot's VM-state offsets, read
 * both ways the adapter reads (copied, and mapped for splicing); they are read-only, named by ID,
 * follow snapshots that other programs delete or make like the snapshot files do, fail with EIO
 * once their snapshot is deleted under them, and hold their snapshot against requests.
 */
class VmStateFilesTest {
    /** "QEVM", QEMU's migration stream magic. */
    private static final int QEVM = 0x5145564d;

    /**
     * vm.qcow2: snapshot 1 "diskonly" (qemu-img, no VM state), 2 "one" and 3 "a/b" (savevm, a name
     * that cannot be a file name), the disk written between them. Made once; each test copies it.
     */
    @TempDir
    static Path fixtures;
    private static Path fixture;

    @TempDir
    Path dir;

    private final List<String> logged = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void makeFixture() {
        fixture = Qemu.create(fixtures.resolve("vm.qcow2"), "8M", "");
        Qemu.io(fixture, "write -P 0x11 0 1M");
        Qemu.snapshot(fixture, "diskonly");
        try (QemuVm vm = QemuVm.start(fixture)) {
            vm.savevm("one");
            vm.qemuIo("write -P 0x22 0 64k");
            vm.savevm("a/b");
        }
    }

    private Path image() throws IOException {
        return Files.copy(fixture, dir.resolve("vm.qcow2"));
    }

    private MountTree tree(boolean readOnly) {
        RequestLog log = new RequestLog(logged::add);
        return new MountTree(new ImageCatalog(dir, log), log, readOnly);
    }

    private static Kind kindOf(Executable e) {
        return assertThrows(ImageException.class, e).kind();
    }

    @Test
    void vmStateFilesHoldTheBytesAtTheSnapshotsVmStateOffsets() throws Exception {
        Path img = image();
        MountTree t = tree(false);
        assertEquals(List.of("snapshots", "by-id", "vm-state", "control"), t.list(t.resolve("/vm.qcow2")));
        assertEquals(List.of("diskonly.raw", "one.raw"), t.list(t.resolve("/vm.qcow2/snapshots")));
        assertEquals(List.of("2.vmstate", "3.vmstate"), t.list(t.resolve("/vm.qcow2/vm-state")),
                "by ID, only snapshots with VM state");
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.resolve("/vm.qcow2/vm-state/1.vmstate")));
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.resolve("/vm.qcow2/vm-state/2.raw")));

        TableWalk walk = TableWalk.of(img);
        Map<String, Long> qemuSizes = Qemu.vmStateSizes(img);
        for (int index : new int[] {1, 2}) {
            SnapshotEntry s = walk.snapshotEntry(index);
            String path = "/vm.qcow2/vm-state/" + s.idString() + ".vmstate";
            Node node = t.resolve(path);
            assertEquals(s, assertInstanceOf(Node.VmStateFile.class, node).snapshot(), path);
            Attributes a = t.attributes(node);
            assertFalse(a.directory(), path);
            assertEquals(0444, a.mode(), path);
            assertEquals((long) qemuSizes.get(s.idString()), a.size(), path + ": qemu-img's VM state size");
            assertEquals((a.size() + 511) / 512, a.blocks(), path);
            assertEquals(s.dateSec(), a.mtimeSec(), path);
            assertEquals(s.dateNsec(), a.mtimeNsec(), path);

            byte[] expected = walk.vmState(index);
            assertEquals(QEVM, ByteBuffer.wrap(expected).getInt(0), path + ": QEMU's migration stream magic");
            OpenFile f = t.open(path, 0);
            try {
                assertEquals(a, f.attributes(), path + ": fstat as stat");
                assertFalse(f.directIo(), "cached like snapshot files");
                Oracle.assertReads(expected, disk(f, a.size()), path + " against the walker");
                Bytes.assertSameBytes(expected, mapAll(f, 128 * 1024), path + " mapped for splicing");
                assertEquals(0, f.map(a.size(), 4096, sink(new ByteArrayOutputStream())), "nothing past the end");
            } finally {
                f.close();
            }
            OpenFile again = t.open(path, 0);
            assertTrue(again.keepCache(), path + ": the same snapshot again, the page cache kept");
            again.close();
        }
    }

    @Test
    void anImageWithoutVmStateHasAnEmptyVmStateDirectory() throws Exception {
        Path img = Qemu.create(dir.resolve("disk.qcow2"), "4M", "");
        Qemu.snapshot(img, "diskonly");
        MountTree t = tree(false);
        Node vmState = t.resolve("/disk.qcow2/vm-state");
        assertTrue(vmState.isDirectory());
        assertEquals(0555, t.attributes(vmState).mode());
        assertEquals(List.of(), t.list(vmState));
        assertEquals(List.of("1.raw"), t.list(t.resolve("/disk.qcow2/by-id")));
    }

    @Test
    void vmStateFilesAreReadOnly() throws Exception {
        image();
        MountTree t = tree(false);
        String path = "/vm.qcow2/vm-state/2.vmstate";
        for (int flags : new int[] {1, 2, 01000}) {
            assertEquals(Kind.READ_ONLY, kindOf(() -> t.open(path, flags)), "flags " + flags);
        }
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.truncate(path, 0)));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.changeTimes(path)));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.create("/vm.qcow2/vm-state/9.vmstate")));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.mknod("/vm.qcow2/vm-state/9.vmstate", true)));
        assertEquals(Kind.IS_DIRECTORY, kindOf(() -> t.open("/vm.qcow2/vm-state", 0)));
        assertFalse(t.writable(t.resolve(path)));
        assertFalse(t.writable(t.resolve("/vm.qcow2/vm-state")));
    }

    @Test
    void vmStateNamesFollowSnapshotsThatOtherProgramsDeleteAndMake() throws Exception {
        Path img = image();
        List<StaleName> reported = new ArrayList<>();
        ImageCatalog c = new ImageCatalog(dir, new RequestLog(line -> { }));
        c.onStaleNames(reported::addAll);
        MountTree t = new MountTree(c, new RequestLog(line -> { }), false);
        assertEquals(List.of("2.vmstate", "3.vmstate"), t.list(t.resolve("/vm.qcow2/vm-state")));
        reported.clear();

        Qemu.deleteSnapshot(img, "one");
        assertEquals(List.of("3.vmstate"), listedAfterRefresh(t));
        assertEquals(List.of(new StaleName("/vm.qcow2/snapshots", "one.raw"),
                new StaleName("/vm.qcow2/by-id", "2.raw"),
                new StaleName("/vm.qcow2/vm-state", "2.vmstate")), reported);
        reported.clear();

        QemuVm.savevm(img, "again"); // ID 4: the largest ID plus one
        assertEquals(List.of("3.vmstate", "4.vmstate"), listedAfterRefresh(t));
        assertEquals(List.of(new StaleName("/vm.qcow2/snapshots", "again.raw"),
                new StaleName("/vm.qcow2/by-id", "4.raw"),
                new StaleName("/vm.qcow2/vm-state", "4.vmstate")), reported);
        reported.clear();

        // the same name again: QEMU replaces the snapshot, so 4.vmstate is another VM state now
        QemuVm.savevm(img, "again");
        String id = Qemu.snapshots(img).stream().filter(l -> l.name().equals("again")).findFirst().orElseThrow().id();
        assertEquals("4", id, "the replacement takes the largest ID plus one again");
        Node.VmStateFile replaced = (Node.VmStateFile) resolvedAfterRefresh(t, "/vm.qcow2/vm-state/4.vmstate");
        assertEquals("again", replaced.snapshot().nameString());
        assertEquals(List.of(new StaleName("/vm.qcow2/snapshots", "again.raw"),
                new StaleName("/vm.qcow2/by-id", "4.raw"),
                new StaleName("/vm.qcow2/vm-state", "4.vmstate")), reported);
        c.close();
    }

    @Test
    void aVmStateFileWhoseSnapshotAnotherProgramDeletedFailsWithEio() throws Exception {
        Path img = image();
        MountTree t = tree(false);
        OpenFile one = t.open("/vm.qcow2/vm-state/2.vmstate", 0);
        OpenFile other = t.open("/vm.qcow2/vm-state/3.vmstate", 0);
        assertEquals(QEVM, readInt(one, 0));

        Qemu.deleteSnapshot(img, "one");
        Qemu.io(img, "write -P 0x33 0 4M"); // may reuse what "one" held
        Thread.sleep(ImageCatalog.REFRESH_NANOS / 1_000_000 + 300);
        ImageException e = assertThrows(ImageException.class, () -> readInt(one, 4096));
        assertEquals(Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("vm.qcow2: snapshot 'one' (ID 2) was deleted by another program"),
                e.getMessage());
        assertEquals(Kind.IO, kindOf(() -> one.map(0, 4096, sink(new ByteArrayOutputStream()))), "mapped too");
        assertEquals(QEVM, readInt(other, 0), "a VM state whose snapshot still exists reads on");
        one.close();
        other.close();
    }

    @Test
    void anOpenVmStateFileHoldsItsSnapshotAgainstRequests() throws Exception {
        Path img = image();
        MountTree t = tree(false);
        OpenFile one = t.open("/vm.qcow2/vm-state/2.vmstate", 0);
        assertEquals(Kind.BUSY, kindOf(() -> t.create("/vm.qcow2/control/delete/one")));
        assertTrue(logged.get(logged.size() - 1).contains("EBUSY: vm.qcow2: snapshot 'one': 1 file is open"),
                logged.get(logged.size() - 1));
        assertEquals(Kind.BUSY, kindOf(() -> t.create("/vm.qcow2/control/apply/diskonly")));
        t.create("/vm.qcow2/control/delete/diskonly").close();
        assertEquals(QEVM, readInt(one, 0));

        one.close();
        t.create("/vm.qcow2/control/delete/one").close();
        assertEquals(List.of("3.vmstate"), t.list(t.resolve("/vm.qcow2/vm-state")), "gone at once");
        Oracle.assertClean(img);
    }

    @Test
    void aVmStateSizePastTheSnapshotsTablesIsListedAndFailsToOpen() throws Exception {
        Path img = image();
        SnapshotEntryPoker.of(img).vmStateSize(0, 1L << 40);
        MountTree t = tree(false);
        assertEquals(List.of("1.vmstate", "2.vmstate", "3.vmstate"), t.list(t.resolve("/vm.qcow2/vm-state")));
        assertEquals(1L << 40, t.attributes(t.resolve("/vm.qcow2/vm-state/1.vmstate")).size());
        ImageException e = assertThrows(ImageException.class, () -> t.open("/vm.qcow2/vm-state/1.vmstate", 0));
        assertEquals(Kind.CORRUPT, e.kind());
        assertTrue(e.getMessage().contains("vm.qcow2: snapshot 1 VM state of 1099511627776 bytes"), e.getMessage());
        assertEquals(QEVM, readInt(t.open("/vm.qcow2/vm-state/2.vmstate", 0), 0), "the others are served");
    }

    private List<String> listedAfterRefresh(MountTree t) throws InterruptedException {
        Thread.sleep(ImageCatalog.REFRESH_NANOS / 1_000_000 + 100);
        return t.list(t.resolve("/vm.qcow2/vm-state"));
    }

    private Node resolvedAfterRefresh(MountTree t, String path) throws InterruptedException {
        Thread.sleep(ImageCatalog.REFRESH_NANOS / 1_000_000 + 100);
        return t.resolve(path);
    }

    private static int readInt(OpenFile f, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        assertEquals(4, f.read(offset, b));
        return b.getInt(0);
    }

    /** An open file as the oracle's {@link Disk}. */
    private static Disk disk(OpenFile f, long size) {
        return new Disk() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public int read(long offset, ByteBuffer dst) throws IOException {
                return f.read(offset, dst);
            }
        };
    }

    /** The whole file as FUSE's splice reply sees it: through {@link OpenFile#map}, {@code chunk} at a time. */
    private static byte[] mapAll(OpenFile f, int chunk) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long offset = 0;
        for (int n; (n = f.map(offset, chunk, sink(out))) > 0; ) {
            offset += n;
        }
        return out.toByteArray();
    }

    private static ExtentSink sink(ByteArrayOutputStream out) {
        return new ExtentSink() {
            @Override
            public void zero(long length) {
                out.writeBytes(new byte[(int) length]);
            }

            @Override
            public void data(PositionalFile file, long hostOffset, long length) throws IOException {
                ByteBuffer b = ByteBuffer.allocate((int) length);
                file.readFully(hostOffset, b);
                out.writeBytes(b.array());
            }

            @Override
            public void bytes(ByteBuffer data) {
                byte[] b = new byte[data.remaining()];
                data.get(b);
                out.writeBytes(b);
            }
        };
    }
}
