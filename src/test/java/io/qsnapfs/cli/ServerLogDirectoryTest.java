package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The background server's default log lies where no other user can plant a file or a link. */
class ServerLogDirectoryTest {
    @TempDir
    Path dir;

    private static long uid() throws IOException {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    @Test
    void aMissingDirectoryIsMadeForThisUserOnly() throws IOException {
        Path logs = dir.resolve("logs");
        assertEquals(logs, ServerLogDirectory.checked(logs, uid()));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(logs)));
        assertEquals(logs, ServerLogDirectory.checked(logs, uid()), "and taken again as it is");
    }

    @Test
    void directoriesOthersMayWriteOrOwnAndLinksAreRefused() throws IOException {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException e = assertThrows(IOException.class, () -> ServerLogDirectory.checked(shared, uid()));
        assertTrue(e.getMessage().contains("give the server's log with --log-file"), e.getMessage());

        Path mine = Files.createDirectory(dir.resolve("mine"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path link = Files.createSymbolicLink(dir.resolve("link"), mine);
        assertThrows(IOException.class, () -> ServerLogDirectory.checked(link, uid()), "a link, even to a good one");
        assertThrows(IOException.class, () -> ServerLogDirectory.checked(mine, uid() + 1), "another user's");
        Path file = Files.createFile(dir.resolve("file"));
        assertThrows(IOException.class, () -> ServerLogDirectory.checked(file, uid()));
    }

    @Test
    void rootLogsUnderRunOthersUnderTheirRuntimeDirectory() throws IOException {
        Path log = ServerLogDirectory.logFor(Path.of("/mnt/snaps"), Map.of("XDG_RUNTIME_DIR", dir.toString()));
        if (uid() == 0) {
            assertEquals(Path.of("/run/qsnapfs/_mnt_snaps.log"), log);
        } else {
            assertEquals(dir.resolve("qsnapfs/_mnt_snaps.log"), log);
        }
    }
}
