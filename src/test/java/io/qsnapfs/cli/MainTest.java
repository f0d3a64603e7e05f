package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Qemu;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Global behaviour: help, version, exit statuses, one-line errors, --debug. */
class MainTest {
    @TempDir
    Path dir;

    private static void assertOneLine(CliRun r, String expected) {
        assertEquals(1, r.status(), r.toString());
        assertEquals(expected + "\n", r.err());
        assertEquals(0, r.out().length, r.toString());
    }

    @Test
    void helpEverywhere() {
        for (String[] args : new String[][] {{"--help"}, {"info", "--help"}, {"snapshot", "--help"},
            {"snapshot", "list", "--help"}, {"snapshot", "create", "--help"}, {"snapshot", "delete", "--help"},
            {"snapshot", "apply", "--help"}, {"export", "--help"}, {"-h"}}) {
            CliRun r = CliRun.of(args);
            assertEquals(0, r.status(), r.toString());
            assertTrue(r.outText().startsWith("Usage: qsnapfs"), r.toString());
        }
        String root = CliRun.of("--help").outText();
        for (String command : new String[] {"info", "snapshot", "export", "--debug", "--version"}) {
            assertTrue(root.contains(command), root);
        }
        String snapshot = CliRun.of("snapshot", "--help").outText();
        for (String operation : new String[] {"list", "create", "delete", "apply"}) {
            assertTrue(snapshot.contains(operation), snapshot);
        }
    }

    @Test
    void version() {
        CliRun r = CliRun.of("--version");
        assertEquals(0, r.status());
        assertTrue(r.outText().startsWith("qsnapfs "), r.outText());
    }

    @Test
    void missingImageIsOneLineNamingIt() {
        Path missing = dir.resolve("web01.qcow2");
        for (String[] args : new String[][] {{"info", missing.toString()}, {"snapshot", "list", missing.toString()},
            {"export", missing.toString(), "-s", "1", dir.resolve("o.raw").toString()}}) {
            assertOneLine(CliRun.of(args), "qsnapfs: web01.qcow2: cannot open: No such file or directory");
        }
        assertTrue(Files.notExists(dir.resolve("o.raw")));
    }

    @Test
    void fileThatIsNotQcow2() throws Exception {
        Path notQcow = dir.resolve("disk.raw");
        Files.write(notQcow, new byte[1 << 16]);
        CliRun r = CliRun.of("info", notQcow.toString());
        assertOneLine(r, "qsnapfs: disk.raw: not a qcow2 image (bad magic 0x0)");
        Path tiny = dir.resolve("tiny.txt");
        Files.writeString(tiny, "hello\n");
        assertOneLine(CliRun.of("snapshot", "list", tiny.toString()),
                "qsnapfs: tiny.txt: file is too short to hold a qcow2 header (6 bytes)");
    }

    @Test
    void directoryInsteadOfImage() {
        CliRun r = CliRun.of("info", dir.toString());
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().startsWith("qsnapfs: " + dir.getFileName() + ": "), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void unknownSnapshotIsOneLineNamingImageAndSnapshot() {
        Path img = Qemu.create(dir.resolve("web01.qcow2"), "4M", "");
        Qemu.snapshot(img, "nightly");
        Path out = dir.resolve("out.raw");
        assertOneLine(CliRun.of("export", img.toString(), "--snapshot", "weekly", out.toString()),
                "qsnapfs: web01.qcow2: no snapshot with ID or name 'weekly'");
        assertTrue(Files.notExists(out), "nothing is created for a snapshot that does not exist");
    }

    @Test
    void usageErrorsExitTwo() {
        Path img = Qemu.create(dir.resolve("u.qcow2"), "4M", "");
        for (String[] args : new String[][] {{}, {"frobnicate"}, {"info"}, {"info", "--output", "xml", img.toString()},
            {"info", "--no-such-option", img.toString()}, {"snapshot"}, {"snapshot", "list"},
            {"export", img.toString()}, {"export", img.toString(), "o.raw", "--streams", "0"},
            {"snapshot", "list", img.toString(), "extra"}, {"snapshot", "create"}, {"snapshot", "create", img.toString()},
            {"snapshot", "delete", img.toString()}, {"snapshot", "apply", img.toString()},
            {"snapshot", "create", img.toString(), "a", "b"}}) {
            CliRun r = CliRun.of(args);
            assertEquals(2, r.status(), String.join(" ", args) + "\n" + r);
            assertTrue(r.err().contains("Usage: qsnapfs"), r.toString());
        }
    }

    @Test
    void debugPrintsTheStackTrace() {
        Path missing = dir.resolve("gone.qcow2");
        CliRun plain = CliRun.of("info", missing.toString());
        assertTrue(!plain.err().contains("\tat "), plain.err());
        for (String[] args : new String[][] {{"--debug", "info", missing.toString()},
            {"info", "--debug", missing.toString()}, {"snapshot", "list", missing.toString(), "--debug"}}) {
            CliRun r = CliRun.of(args);
            assertEquals(1, r.status(), r.toString());
            assertTrue(r.err().startsWith("qsnapfs: gone.qcow2: cannot open: No such file or directory\n"), r.err());
            assertTrue(r.err().contains("ImageException"), r.err());
            assertTrue(r.err().contains("\tat io.qsnapfs."), r.err());
        }
    }
}
