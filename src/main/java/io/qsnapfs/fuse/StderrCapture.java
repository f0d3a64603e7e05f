package io.qsnapfs.fuse;

import io.qsnapfs.io.LibC;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * Runs a native call with descriptor 2 pointed at a temporary file and keeps what it wrote there.
 * libfuse and fusermount say why a mount fails only on standard error ("mountpoint is not empty",
 * "failed to open /dev/fuse: Permission denied"); captured, the reason can go into the error the
 * user sees instead of a server log.
 */
final class StderrCapture {
    private StderrCapture() {
    }

    /** What the call returned and what it wrote to standard error (stripped). */
    record Result<T>(T value, String text) {
    }

    static <T> Result<T> run(Supplier<T> call) throws IOException {
        LibC libc = LibC.get();
        if (libc == null) {
            return new Result<>(call.get(), "");
        }
        Path file = Files.createTempFile("qsnapfs-stderr", ".txt");
        try {
            int fd = libc.open(file.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
            int saved = fd < 0 ? -1 : libc.dup(2);
            if (saved < 0) {
                if (fd >= 0) {
                    libc.close(fd);
                }
                return new Result<>(call.get(), "");
            }
            System.err.flush();
            libc.dup2(fd, 2); // the copy at 2 is inherited by fusermount (dup2 clears close-on-exec)
            libc.close(fd);
            T value;
            try {
                value = call.get();
            } finally {
                libc.dup2(saved, 2);
                libc.close(saved);
            }
            return new Result<>(value, new String(Files.readAllBytes(file), StandardCharsets.UTF_8).strip());
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
