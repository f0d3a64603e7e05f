package io.qsnapfs.mount;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Where the control requests find the QMP monitor of a running VM that holds an image (mount
 * option {@code qmp=DIR}): {@code DIR/NAME.qmp} for the image file {@code NAME} (e.g.
 * {@code web01.qcow2.qmp}), else {@code DIR/STEM.qmp} for its name without the extension
 * ({@code web01.qmp}), each when it exists; otherwise, or without a directory, the sockets found
 * on the command line of the process that holds the image. Also the time limit of each exchange.
 */
public final class QmpRoutes {
    private final Path dir;
    private final Duration timeout;

    /**
     * @param dir     the directory of sockets, or null to rely on finding them
     * @param timeout the limit for connecting, the greeting and each query
     */
    public QmpRoutes(Path dir, Duration timeout) {
        this.dir = dir;
        this.timeout = timeout;
    }

    /** The socket named for {@code image}, or null when the monitor is to be found. */
    Path socketFor(String image) {
        if (dir == null) {
            return null;
        }
        Path exact = dir.resolve(image + ".qmp");
        if (Files.exists(exact)) {
            return exact;
        }
        int dot = image.lastIndexOf('.');
        if (dot > 0) {
            Path stem = dir.resolve(image.substring(0, dot) + ".qmp");
            if (Files.exists(stem)) {
                return stem;
            }
        }
        return null;
    }

    /** The limit for connecting, the greeting and each query. */
    public Duration timeout() {
        return timeout;
    }
}
