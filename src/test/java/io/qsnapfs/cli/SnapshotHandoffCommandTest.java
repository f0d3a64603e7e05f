package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.qmp.QmpClient;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs snapshot create/delete} on the image of a running VM (a real qemu-system-x86_64)
 * go to its QEMU, with and without {@code --qmp}, silent on success like qemu-img; {@code apply}
 * is refused naming loadvm; {@code qemu-img} agrees after the VM quits and finds the image clean.
 */
class SnapshotHandoffCommandTest {
    @TempDir
    Path dir;

    @Test
    void createAndDeleteWithAndWithoutQmpApplyRefused() throws Exception {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "16M", "");
        Qemu.io(img, "write -P 0x11 0 1M");
        Path found = dir.resolve("found.qmp");
        Path hidden = dir.resolve("hidden.qmp");
        Path named = dir.resolve("named.qmp");
        try (QemuVm vm = QemuVm.on(img).qmp(found).qmp(hidden).start()) {
            Files.move(hidden, named); // reachable only through --qmp now
            String path = img.toString();
            ok(CliRun.of("snapshot", "create", path, "found"));
            try (QmpClient holder = QmpClient.connect(found, Duration.ofSeconds(5))) {
                // the monitor on QEMU's command line is taken: only --qmp gets through
                CliRun busy = CliRun.of("snapshot", "create", "--qmp-timeout", "0.5", path, "lost");
                assertEquals(1, busy.status(), busy.toString());
                assertTrue(busy.err().contains("did not greet within") && busy.err().contains(hidden.toString()),
                        busy.err());
                ok(CliRun.of("snapshot", "create", "--qmp", named.toString(), "--qmp-timeout", "0.5", path, "named"));
                ok(CliRun.of("snapshot", "delete", "--qmp", named.toString(), path, "found"));
            }
            assertEquals(List.of("named"), names(Qemu.snapshotsWhileHeld(img)));

            CliRun taken = CliRun.of("snapshot", "create", path, "named");
            assertEquals(1, taken.status(), taken.toString());
            assertEquals("qsnapfs: vm.qcow2: a snapshot named 'named' exists already (ID 2)\n", taken.err());

            ok(CliRun.of("snapshot", "delete", path, "named"));
            CliRun gone = CliRun.of("snapshot", "delete", path, "named");
            assertEquals(1, gone.status(), gone.toString());
            assertTrue(gone.err().contains("no snapshot with ID or name 'named'"), gone.err());

            CliRun apply = CliRun.of("snapshot", "apply", path, "1");
            assertEquals(1, apply.status(), apply.toString());
            assertTrue(apply.err().contains("in use by QEMU pid " + vm.pid()) && apply.err().contains("loadvm"),
                    apply.err());
            ok(CliRun.of("snapshot", "create", path, "kept"));
        }
        assertEquals(List.of("kept"), names(Qemu.snapshots(img)));
        Oracle.assertClean(img, "after the VM's snapshots");
    }

    @Test
    void aTimeLimitMustBeSeconds() {
        for (String bad : new String[] {"0", "0.0000001", "-1", "soon", "3601", "1e3"}) {
            CliRun r = CliRun.of("snapshot", "create", "--qmp-timeout", bad, dir.resolve("x.qcow2").toString(), "n");
            assertEquals(2, r.status(), bad + ": " + r);
        }
    }

    private static void ok(CliRun r) {
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.err(), "silent, like qemu-img snapshot");
        assertEquals(0, r.out().length);
    }

    private static List<String> names(List<Qemu.Listed> listed) {
        return listed.stream().map(Qemu.Listed::name).toList();
    }
}
