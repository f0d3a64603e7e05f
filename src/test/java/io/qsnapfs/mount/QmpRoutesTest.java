package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code -o qmp=DIR}: which socket of DIR serves which image. */
class QmpRoutesTest {
    @TempDir
    Path dir;

    /** A socket file at {@code path} (nobody needs to listen for the routing). */
    private static Path socket(Path path) throws IOException {
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(path));
        }
        return path;
    }

    @Test
    void theImagesFileNameFirstThenItsStemElseFinding() throws IOException {
        QmpRoutes routes = new QmpRoutes(dir, Duration.ofSeconds(1));
        assertNull(routes.socketFor("web01.qcow2"), "nothing mapped: the monitor is to be found");
        socket(dir.resolve("web01.qmp"));
        assertEquals(dir.resolve("web01.qmp"), routes.socketFor("web01.qcow2"));
        socket(dir.resolve("web01.qcow2.qmp"));
        assertEquals(dir.resolve("web01.qcow2.qmp"), routes.socketFor("web01.qcow2"), "the full name wins");
        socket(dir.resolve("plain.qmp"));
        assertEquals(dir.resolve("plain.qmp"), routes.socketFor("plain"), "an image name without an extension");
        assertNull(routes.socketFor("db.qcow2"));
        assertNull(new QmpRoutes(null, Duration.ofSeconds(1)).socketFor("web01.qcow2"), "no directory");
    }

    @Test
    void onlySocketsAreTakenNotLinksOrFiles() throws IOException {
        QmpRoutes routes = new QmpRoutes(dir, Duration.ofSeconds(1));
        Path elsewhere = socket(Files.createTempDirectory("qmp-elsewhere").resolve("x.sock"));
        Files.createSymbolicLink(dir.resolve("linked.qcow2.qmp"), elsewhere);
        assertNull(routes.socketFor("linked.qcow2"), "a link planted in DIR is not followed");
        Files.createFile(dir.resolve("file.qcow2.qmp"));
        assertNull(routes.socketFor("file.qcow2"), "a regular file is no socket");
        Files.delete(elsewhere);
        Files.delete(elsewhere.getParent());
    }
}
