package io.qsnapfs.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Whether this process's standard error is systemd's journal: systemd sets {@code JOURNAL_STREAM}
 * to the device and inode ({@code DEV:INO}, decimal) of the stream it connects, and a process whose
 * stderr is still that stream (not redirected since) may log there (sd_journal_stream_fd(3)).
 */
final class JournalStream {
    private JournalStream() {
    }

    /** True when stderr is the stream {@code JOURNAL_STREAM} names. */
    static boolean isStderr() {
        String stream = System.getenv("JOURNAL_STREAM");
        if (stream == null) {
            return false;
        }
        try {
            Map<String, Object> a = Files.readAttributes(Path.of("/proc/self/fd/2"), "unix:dev,ino");
            return names(stream, (Long) a.get("dev"), (Long) a.get("ino"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }

    /** True when {@code value} ({@code DEV:INO}) names the file with this device and inode. */
    static boolean names(String value, long dev, long ino) {
        return value.equals(Long.toUnsignedString(dev) + ":" + Long.toUnsignedString(ino));
    }
}
