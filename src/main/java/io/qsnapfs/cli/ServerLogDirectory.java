package io.qsnapfs.cli;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * Where a background mount server logs when no {@code --log-file} is given and it is not under
 * systemd: {@code <mountpoint with / as _>.log} in a directory only this user can write, so that no
 * other user can plant a file or a symbolic link where the server (often root) appends:
 * {@code /run/qsnapfs} for root, {@code $XDG_RUNTIME_DIR/qsnapfs} for others, else {@code
 * /tmp/qsnapfs-UID}. The directory is made 0700 when missing and refused unless it is a real
 * directory of this user that no one else may write.
 */
final class ServerLogDirectory {
    private ServerLogDirectory() {
    }

    /** The default log of the server of {@code mountPoint}. */
    static Path logFor(Path mountPoint, Map<String, String> environment) throws IOException {
        long uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        Path dir;
        String runtime = environment.get("XDG_RUNTIME_DIR");
        if (uid == 0) {
            dir = Path.of("/run/qsnapfs");
        } else if (runtime != null && runtime.startsWith("/")) {
            dir = Path.of(runtime, "qsnapfs");
        } else {
            dir = Path.of("/tmp", "qsnapfs-" + uid);
        }
        return checked(dir, uid).resolve(mountPoint.toString().replace('/', '_') + ".log");
    }

    /** {@code dir}, made 0700 when missing; refused unless a directory of {@code uid} only it may write. */
    static Path checked(Path dir, long uid) throws IOException {
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
            // checked below, whoever made it
        }
        boolean directory = Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS);
        long owner = directory ? (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS) : -1;
        Set<PosixFilePermission> perms = directory ? Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS)
                : Set.of();
        if (!directory || owner != uid || perms.contains(PosixFilePermission.GROUP_WRITE)
                || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException(dir + " is not a directory of user " + uid + " that only it may write;"
                    + " give the server's log with --log-file");
        }
        return dir;
    }
}
