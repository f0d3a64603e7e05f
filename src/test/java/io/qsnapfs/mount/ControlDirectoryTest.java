package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException.Kind;
import io.qsnapfs.engine.ImageException;
import io.qsnapfs.testing.ImageHolder;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control directory at the tree level, without FUSE, on real images judged by QEMU: requests
 * through create/mknod/open, what the names look like afterwards, every errno, the log.
 */
class ControlDirectoryTest {
    private static final int O_WRONLY = 1;

    @TempDir
    Path dir;
    @TempDir
    Path scratch;

    private final List<String> logged = Collections.synchronizedList(new ArrayList<>());

    private MountTree tree(boolean readOnly) {
        RequestLog log = new RequestLog(logged::add);
        return new MountTree(new ImageCatalog(dir, log), log, readOnly);
    }

    private Path image(String name) {
        Path img = Qemu.create(dir.resolve(name), "8M", "");
        Qemu.io(img, "write -P 0x11 0 1M", "write -P 0x12 3M 64k");
        Qemu.snapshot(img, "base");
        Qemu.io(img, "write -P 0x21 512k 1M");
        return img;
    }

    private static List<String> listing(MountTree t, String path) {
        return t.list(t.resolve(path));
    }

    private static byte[] readAll(MountTree t, String path) throws Exception {
        OpenFile f = t.open(path, 0);
        try {
            ByteBuffer b = ByteBuffer.allocate((int) t.attributes(t.resolve(path)).size());
            while (b.hasRemaining() && f.read(b.position(), b) > 0) {
                // read on
            }
            return b.array();
        } finally {
            f.close();
        }
    }

    private static Kind kindOf(Executable e) {
        return assertThrows(ImageException.class, e).kind();
    }

    private String lastLine() {
        return logged.get(logged.size() - 1);
    }

    @Test
    void createShowsTheSnapshotAtOnceAndLeavesAnEmptyFileForTouch() throws Exception {
        Path img = image("vm.qcow2");
        MountTree t = tree(false);
        assertEquals(List.of("base.raw"), listing(t, "/vm.qcow2/snapshots"));

        OpenFile made = t.create("/vm.qcow2/control/create/nightly");
        // what touch does next: look the name up, set its times, close it
        Attributes a = t.attributes(t.resolve("/vm.qcow2/control/create/nightly"));
        assertFalse(a.directory());
        assertEquals(0644, a.mode());
        assertEquals(0, a.size());
        t.changeTimes("/vm.qcow2/control/create/nightly");
        t.truncate("/vm.qcow2/control/create/nightly", 0);
        assertEquals(0, made.read(0, ByteBuffer.allocate(10)));
        made.close();
        assertEquals(List.of("nightly"), listing(t, "/vm.qcow2/control/create"));

        // no wait for the refresh interval
        assertEquals(List.of("base.raw", "nightly.raw"), listing(t, "/vm.qcow2/snapshots"));
        assertEquals(List.of("1.raw", "2.raw"), listing(t, "/vm.qcow2/by-id"));
        assertArrayEquals(Qemu.snapshotBytes(img, "2", scratch), readAll(t, "/vm.qcow2/snapshots/nightly.raw"));
        assertArrayEquals(Qemu.snapshotBytes(img, "1", scratch), readAll(t, "/vm.qcow2/snapshots/base.raw"));
        Oracle.assertClean(img);
        assertTrue(lastLine().endsWith(" create vm.qcow2 \"nightly\": ok, id 2"), lastLine());
    }

    @Test
    void deleteByNameAndByIdIsGoneAtOnce() throws Exception {
        Path img = image("vm.qcow2");
        MountTree t = tree(false);
        t.create("/vm.qcow2/control/create/two").close();
        t.create("/vm.qcow2/control/create/three").close();
        assertEquals(List.of("base.raw", "two.raw", "three.raw"), listing(t, "/vm.qcow2/snapshots"));

        t.create("/vm.qcow2/control/delete/two").close();
        assertEquals(List.of("base.raw", "three.raw"), listing(t, "/vm.qcow2/snapshots"));
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.open("/vm.qcow2/snapshots/two.raw", 0)));
        assertTrue(lastLine().endsWith(" delete vm.qcow2 \"two\": ok, id 2"), lastLine());
        Oracle.assertClean(img);

        t.create("/vm.qcow2/control/delete/1").close();
        assertEquals(List.of("three.raw"), listing(t, "/vm.qcow2/snapshots"));
        assertEquals(List.of("3.raw"), listing(t, "/vm.qcow2/by-id"));
        assertArrayEquals(Qemu.snapshotBytes(img, "3", scratch), readAll(t, "/vm.qcow2/snapshots/three.raw"));
        Oracle.assertClean(img);
        assertTrue(Qemu.img("snapshot", "-l", img.toString()).contains("three"));
    }

    @Test
    void applyRevertsTheActiveLayer() throws Exception {
        Path img = image("vm.qcow2");
        MountTree t = tree(false);
        t.create("/vm.qcow2/control/apply/base").close();
        assertArrayEquals(Qemu.snapshotBytes(img, "1", scratch), Qemu.activeBytes(img, scratch));
        Oracle.assertClean(img);
        assertTrue(lastLine().endsWith(" apply vm.qcow2 \"base\": ok, id 1"), lastLine());
        assertEquals(List.of("base"), listing(t, "/vm.qcow2/control/apply"));
    }

    @Test
    void mknodOfARegularFileIsARequestToo() {
        Path img = image("vm.qcow2");
        MountTree t = tree(false);
        t.mknod("/vm.qcow2/control/create/made", true);
        assertInstanceOf(Node.RequestFile.class, t.resolve("/vm.qcow2/control/create/made"));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.mknod("/vm.qcow2/control/create/fifo", false)));
        assertTrue(Qemu.img("snapshot", "-l", img.toString()).contains("made"));
    }

    @Test
    void openingAJustMadeNameForWritingRepeatsTheRequest() {
        image("vm.qcow2");
        MountTree t = tree(false);
        t.create("/vm.qcow2/control/create/x").close();
        // touch again while the kernel still knows the name: OPEN instead of CREATE
        assertEquals(Kind.EXISTS, kindOf(() -> t.open("/vm.qcow2/control/create/x", O_WRONLY)));
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.resolve("/vm.qcow2/control/create/x")),
                "a failed request leaves no name behind, so touch reports the request's errno");

        t.create("/vm.qcow2/control/delete/x").close();
        t.create("/vm.qcow2/control/create/x").close();
        OpenFile again = t.open("/vm.qcow2/control/delete/x", O_WRONLY);
        again.close();
        assertEquals(List.of("base.raw"), listing(t, "/vm.qcow2/snapshots"));
        OpenFile reading = t.open("/vm.qcow2/control/delete/x", 0);
        reading.close();
        assertEquals(List.of("base.raw"), listing(t, "/vm.qcow2/snapshots"), "opening to read is no request");
        assertEquals(5, logged.stream().filter(l -> l.contains(" \"x\": ")).count(), logged.toString());

        // the kernel may remember a name a little longer than the tree shows it: still a request
        t.open("/vm.qcow2/control/create/forgotten", O_WRONLY).close();
        assertEquals(List.of("base.raw", "forgotten.raw"), listing(t, "/vm.qcow2/snapshots"));
    }

    @Test
    void theNamesOfRequestsVanishAfterAMoment() throws Exception {
        image("vm.qcow2");
        MountTree t = tree(false);
        OpenFile held = t.create("/vm.qcow2/control/create/x");
        Thread.sleep(Receipts.LINGER_NANOS / 1_000_000 + 200);
        assertEquals(List.of("x"), listing(t, "/vm.qcow2/control/create"), "kept while open");
        held.close();
        assertEquals(List.of("x"), listing(t, "/vm.qcow2/control/create"), "and a moment after");
        Thread.sleep(Receipts.LINGER_NANOS / 1_000_000 + 200);
        assertEquals(List.of(), listing(t, "/vm.qcow2/control/create"));
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.resolve("/vm.qcow2/control/create/x")));
    }

    @Test
    void failuresHaveTheirKindAndALogLine() {
        image("vm.qcow2");
        MountTree t = tree(false);
        t.create("/vm.qcow2/control/create/taken").close();
        assertEquals(Kind.EXISTS, kindOf(() -> t.create("/vm.qcow2/control/create/taken")));
        assertTrue(lastLine().contains(" create vm.qcow2 \"taken\": EEXIST: vm.qcow2: "), lastLine());
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.create("/vm.qcow2/control/delete/nosuch")));
        assertTrue(lastLine().contains(" delete vm.qcow2 \"nosuch\": ENOENT: "), lastLine());
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.create("/vm.qcow2/control/apply/nosuch")));
        assertTrue(lastLine().contains(" apply vm.qcow2 \"nosuch\": ENOENT: "), lastLine());

        String tooLong = "x".repeat(252);
        assertEquals(Kind.INVALID_ARGUMENT, kindOf(() -> t.create("/vm.qcow2/control/create/" + tooLong)));
        assertTrue(lastLine().contains(": EINVAL: "), lastLine());
        assertEquals(Kind.INVALID_ARGUMENT, kindOf(() -> t.create("/vm.qcow2/control/create/bad\uFFFDbytes")));
        assertTrue(lastLine().contains("not valid UTF-8"), lastLine());
        String newline = "two\nlines";
        assertEquals(Kind.EXISTS, kindOf(() -> {
            t.create("/vm.qcow2/control/create/" + newline).close();
            t.create("/vm.qcow2/control/create/" + newline);
        }));
        assertTrue(lastLine().contains("\"two\\x0alines\": EEXIST"), "one line per request: " + lastLine());

        for (String p : List.of("/vm.qcow2/control/create/" + tooLong, "/vm.qcow2/control/delete/nosuch")) {
            assertEquals(Kind.NOT_FOUND, kindOf(() -> t.resolve(p)), p);
        }
        assertEquals(List.of(), listing(t, "/vm.qcow2/control/delete"));
    }

    @Test
    void oneBitRefcountsCannotHoldASnapshot() {
        Path img = Qemu.create(dir.resolve("r1.qcow2"), "8M", "refcount_bits=1");
        Qemu.io(img, "write -P 0x11 0 1M");
        MountTree t = tree(false);
        assertEquals(Kind.INVALID_ARGUMENT, kindOf(() -> t.create("/r1.qcow2/control/create/s")));
        assertTrue(lastLine().contains(" create r1.qcow2 \"s\": EINVAL: "), lastLine());
        Oracle.assertClean(img);
    }

    @Test
    void aReadOnlyMountRefusesEveryRequestAndSaysSo() {
        Path img = image("vm.qcow2");
        MountTree t = tree(true);
        for (String d : List.of("create", "delete", "apply")) {
            assertEquals(Kind.READ_ONLY, kindOf(() -> t.create("/vm.qcow2/control/" + d + "/base")), d);
            assertTrue(lastLine().contains(" " + d + " vm.qcow2 \"base\": EROFS: "), lastLine());
        }
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.mknod("/vm.qcow2/control/create/x", true)));
        assertFalse(t.writable(t.resolve("/vm.qcow2/control/create")));
        assertEquals(List.of("base.raw"), listing(t, "/vm.qcow2/snapshots"));
        assertEquals(1, Qemu.img("snapshot", "-l", img.toString()).lines().filter(l -> l.contains("base")).count());
    }

    @Test
    void nothingOutsideTheRequestDirectoriesCanBeMade() {
        image("vm.qcow2");
        MountTree t = tree(false);
        for (String p : List.of("/vm.qcow2/snapshots/new.raw", "/vm.qcow2/control/new", "/vm.qcow2/new", "/new",
                "/vm.qcow2/control/create/a/b")) {
            assertEquals(Kind.READ_ONLY, kindOf(() -> t.create(p)), p);
            assertEquals(Kind.READ_ONLY, kindOf(() -> t.mknod(p, true)), p);
        }
        assertEquals(Kind.NOT_FOUND, kindOf(() -> t.create("/nosuch.qcow2/control/create/x")));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.changeTimes("/vm.qcow2/snapshots/base.raw")));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.changeTimes("/vm.qcow2/control/create")));
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.truncate("/vm.qcow2/snapshots/base.raw", 0)));
        t.create("/vm.qcow2/control/create/x").close();
        assertEquals(Kind.READ_ONLY, kindOf(() -> t.truncate("/vm.qcow2/control/create/x", 5)));
        assertTrue(t.writable(t.resolve("/vm.qcow2/control/create/x")));
        assertFalse(t.writable(t.resolve("/vm.qcow2/snapshots/base.raw")));
        assertFalse(t.writable(t.resolve("/vm.qcow2/control/log")));
    }

    @Test
    void openSnapshotFilesMakeDeleteAndApplyBusy() throws Exception {
        Path img = image("vm.qcow2");
        MountTree t = tree(false);
        t.create("/vm.qcow2/control/create/other").close();
        OpenFile base = t.open("/vm.qcow2/snapshots/base.raw", 0);

        assertEquals(Kind.BUSY, kindOf(() -> t.create("/vm.qcow2/control/delete/base")));
        assertTrue(lastLine().contains(" delete vm.qcow2 \"base\": EBUSY: "), lastLine());
        assertEquals(Kind.BUSY, kindOf(() -> t.create("/vm.qcow2/control/delete/1")), "by ID too");
        assertEquals(Kind.BUSY, kindOf(() -> t.create("/vm.qcow2/control/apply/other")),
                "apply: any file of the image");
        t.create("/vm.qcow2/control/create/while-open").close();
        t.create("/vm.qcow2/control/delete/other").close();
        assertEquals(0x11, readAll(t, "/vm.qcow2/snapshots/base.raw")[0], "other snapshots read on");

        base.close();
        t.create("/vm.qcow2/control/apply/base").close();
        t.create("/vm.qcow2/control/delete/base").close();
        assertEquals(List.of("while-open.raw"), listing(t, "/vm.qcow2/snapshots"));
        Oracle.assertClean(img);
    }

    @Test
    void anImageQemuHoldsIsBusyAndReadableMeanwhile() throws Exception {
        Path img = image("vm.qcow2");
        MountTree t = tree(false);
        byte[] before = Qemu.snapshotBytes(img, "1", scratch);
        try (ImageHolder qemu = ImageHolder.qemuIo(img)) {
            for (String p : List.of("create/held", "delete/base", "apply/base")) {
                assertEquals(Kind.BUSY, kindOf(() -> t.create("/vm.qcow2/control/" + p)), p);
                assertTrue(lastLine().contains(": EBUSY: "), lastLine());
            }
            assertArrayEquals(before, readAll(t, "/vm.qcow2/snapshots/base.raw"));
        }
        t.create("/vm.qcow2/control/create/held").close();
        Oracle.assertClean(img);
    }

    @Test
    void aFileClosedJustBeforeTheRequestDoesNotMakeItBusy() throws Exception {
        image("vm.qcow2");
        MountTree t = tree(false);
        OpenFile base = t.open("/vm.qcow2/snapshots/base.raw", 0);
        // the kernel sends a release after close() returned: it may arrive just after the request
        CompletableFuture.runAsync(() -> {
            sleep(OpenSnapshots.RELEASE_WAIT_MILLIS / 3);
            base.close();
        });
        t.create("/vm.qcow2/control/delete/base").close();
        assertEquals(List.of(), listing(t, "/vm.qcow2/snapshots"));
    }

    @Test
    void requestsOnOneImageWaitForEachOtherWhileReadsAndOtherImagesGoOn() throws Exception {
        Path a = image("a.qcow2");
        image("b.qcow2");
        MountTree t = tree(false);
        ReentrantLock lockOfA = t.requests().lockOf("a.qcow2");
        lockOfA.lock();
        CompletableFuture<Void> onA;
        try {
            onA = CompletableFuture.runAsync(() -> t.create("/a.qcow2/control/create/waits").close());
            sleep(300);
            assertFalse(onA.isDone(), "a request on a.qcow2 waits for the one before it");
            // meanwhile: reads of a.qcow2 and a request on b.qcow2
            assertEquals(0x11, readAll(t, "/a.qcow2/snapshots/base.raw")[0]);
            assertEquals(List.of("a.qcow2", "b.qcow2"), listing(t, "/"));
            CompletableFuture.runAsync(() -> t.create("/b.qcow2/control/create/parallel").close())
                    .get(30, TimeUnit.SECONDS);
            assertEquals(List.of("base.raw", "parallel.raw"), listing(t, "/b.qcow2/snapshots"));
        } finally {
            lockOfA.unlock();
        }
        onA.get(30, TimeUnit.SECONDS);
        assertEquals(List.of("base.raw", "waits.raw"), listing(t, "/a.qcow2/snapshots"));
        Oracle.assertClean(a);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
