package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built launcher {@code target/qsnapfs} as a real process, from another directory: what a user
 * runs. Needs {@code make build} first; a missing launcher fails the test, it never skips.
 */
class LauncherTest {
    private static Path launcher;

    @TempDir
    Path dir;

    @BeforeAll
    static void findLauncher() {
        launcher = Path.of("target", "qsnapfs").toAbsolutePath();
        if (!Files.isExecutable(launcher) || !Files.exists(Path.of("target", "qsnapfs.jar"))) {
            fail(launcher + " is missing: run make build before the tests");
        }
    }

    private Processes.Output qsnapfs(Map<String, String> env, String... args) {
        List<String> command = new java.util.ArrayList<>(List.of(launcher.toString()));
        command.addAll(List.of(args));
        return Processes.run(command, env, dir.toFile());
    }

    @Test
    void snapshotListIsQemuImgsInTheCallersTimeZone() {
        Path img = Qemu.create(dir.resolve("web01.qcow2"), "8M", "");
        Qemu.snapshot(img, "nightly 2024-01-01");
        Qemu.snapshot(img, "\u00e9t\u00e9");
        for (String tz : new String[] {"Asia/Kolkata", "America/Los_Angeles"}) {
            Processes.Output ours = qsnapfs(Map.of("TZ", tz), "snapshot", "list", "web01.qcow2");
            assertEquals(0, ours.exitCode(), ours.stderr());
            assertArrayEquals(Qemu.snapshotList(img, tz), ours.stdoutBytes(), ours.stdout());
        }
    }

    @Test
    void exportWritesQemuImgsBytes() throws Exception {
        Path img = Qemu.create(dir.resolve("disk.qcow2"), "8M", "");
        Qemu.io(img, "write -P 0x5a 1M 2M");
        Qemu.snapshot(img, "s");
        Processes.Output r = qsnapfs(Map.of(), "export", "disk.qcow2", "--snapshot", "s", "disk.raw");
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals("", r.stderr(), "no progress bar without a terminal");
        Bytes.assertSameBytes(Qemu.snapshotBytes(img, "1", dir), Files.readAllBytes(dir.resolve("disk.raw")), "export");
    }

    @Test
    void errorsAndUsage() {
        Processes.Output missing = qsnapfs(Map.of(), "info", "nope.qcow2");
        assertEquals(1, missing.exitCode());
        assertEquals("qsnapfs: nope.qcow2: cannot open: No such file or directory\n", missing.stderr());
        Processes.Output usage = qsnapfs(Map.of(), "info");
        assertEquals(2, usage.exitCode());
        assertTrue(usage.stderr().contains("Missing required parameter"), usage.stderr());
        Processes.Output version = qsnapfs(Map.of(), "--version");
        assertEquals(0, version.exitCode());
        assertTrue(version.stdout().matches("qsnapfs \\d+\\.\\d+\\.\\d+.*\\n"), version.stdout());
    }
}
