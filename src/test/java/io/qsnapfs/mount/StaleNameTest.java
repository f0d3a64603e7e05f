package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Qemu;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The names the catalog reports stale when an image's handle is replaced: exactly the snapshot
 * files that are new, gone or name another snapshot now, and an image's own name when it appears
 * or goes. The FUSE layer drops these from the kernel's cache (native-tests/mount-names.sh).
 */
class StaleNameTest {
    @TempDir
    Path dir;

    private final List<StaleName> reported = new ArrayList<>();

    private ImageCatalog catalog() {
        ImageCatalog c = new ImageCatalog(dir, new RequestLog(line -> { }));
        c.onStaleNames(reported::addAll);
        return c;
    }

    private static void pastRefresh() throws InterruptedException {
        Thread.sleep(ImageCatalog.REFRESH_NANOS / 1_000_000 + 100);
    }

    @Test
    void snapshotsCreatedAndDeletedByAnotherProgramAreTheirNamesOnly() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.snapshot(img, "kept");
        Qemu.snapshot(img, "old");
        ImageCatalog c = catalog();
        assertEquals(List.of("vm.qcow2"), c.names());
        assertEquals(List.of(new StaleName("/", "vm.qcow2")), reported, "the image appeared");
        reported.clear();

        Qemu.deleteSnapshot(img, "old");
        Qemu.snapshot(img, "new");
        pastRefresh();
        c.refresh();
        // "old" had ID 2, and "new" gets ID 2 again (the largest left plus one): by-id/2.raw now
        // names another snapshot; 1.raw and kept.raw are untouched
        assertEquals(List.of(new StaleName("/vm.qcow2/snapshots", "new.raw"),
                new StaleName("/vm.qcow2/snapshots", "old.raw"),
                new StaleName("/vm.qcow2/by-id", "2.raw")), reported);
        reported.clear();

        pastRefresh();
        c.refresh();
        assertEquals(List.of(), reported, "nothing changed, nothing stale");
        c.close();
    }

    @Test
    void aNameThatComesToMeanAnotherSnapshotIsStale() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.snapshot(img, "a");
        Qemu.snapshot(img, "b");
        ImageCatalog c = catalog();
        c.names();
        reported.clear();
        Qemu.deleteSnapshot(img, "b");
        Qemu.snapshot(img, "b"); // the same name and the same ID 2 again, another snapshot
        ImageHandle h = c.reopen("vm.qcow2");
        assertTrue(h != null);
        assertEquals(List.of(new StaleName("/vm.qcow2/snapshots", "b.raw"),
                new StaleName("/vm.qcow2/by-id", "2.raw")), reported);
        c.close();
    }

    @Test
    void anImageThatGoesIsItsNameInTheRoot() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        ImageCatalog c = catalog();
        c.names();
        reported.clear();
        Files.delete(img);
        pastRefresh();
        c.refresh();
        assertEquals(List.of(new StaleName("/", "vm.qcow2")), reported);
        c.close();
    }
}
