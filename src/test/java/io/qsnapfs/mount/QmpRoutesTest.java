package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code -o qmp=DIR}: which socket of DIR serves which image. */
class QmpRoutesTest {
    @TempDir
    Path dir;

    @Test
    void theImagesFileNameFirstThenItsStemElseFinding() throws IOException {
        QmpRoutes routes = new QmpRoutes(dir, Duration.ofSeconds(1));
        assertNull(routes.socketFor("web01.qcow2"), "nothing mapped: the monitor is to be found");
        Files.createFile(dir.resolve("web01.qmp"));
        assertEquals(dir.resolve("web01.qmp"), routes.socketFor("web01.qcow2"));
        Files.createFile(dir.resolve("web01.qcow2.qmp"));
        assertEquals(dir.resolve("web01.qcow2.qmp"), routes.socketFor("web01.qcow2"), "the full name wins");
        Files.createFile(dir.resolve("plain.qmp"));
        assertEquals(dir.resolve("plain.qmp"), routes.socketFor("plain"), "an image name without an extension");
        assertNull(routes.socketFor("db.qcow2"));
        assertNull(new QmpRoutes(null, Duration.ofSeconds(1)).socketFor("web01.qcow2"), "no directory");
    }
}
