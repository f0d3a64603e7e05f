package io.qsnapfs.mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;

/**
 * Where the control requests find the QMP monitor of a running VM that holds an image (mount
 * option {@code qmp=DIR}): {@code DIR/NAME.qmp} for the image file {@code NAME} (e.g.
 * {@code web01.qcow2.qmp}), else {@code DIR/STEM.qmp} for its name without the extension
 * ({@code web01.qmp}), each when it is a socket (a symbolic link or any other file there is not
 * followed, so DIR should be writable only by whoever runs the mount); it is tried first, then the
 * sockets found on the command line of the process that holds the image. Also the time limit of
 * each exchange.
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
        if (isSocket(exact)) {
            return exact;
        }
        int dot = image.lastIndexOf('.');
        if (dot > 0) {
            Path stem = dir.resolve(image.substring(0, dot) + ".qmp");
            if (isSocket(stem)) {
                return stem;
            }
        }
        return null;
    }

    private static boolean isSocket(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther();
        } catch (IOException e) {
            return false;
        }
    }

    /** The limit for connecting, the greeting and each query. */
    public Duration timeout() {
        return timeout;
    }
}
