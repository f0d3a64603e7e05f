package io.qsnapfs.mount;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Consumer;

/**
 * The recent events of a mount, one line each, shown as {@code control/log}: requests and their
 * outcomes, and images that had to be skipped. Bounded, so a busy mount does not grow it forever.
 * Every line also goes to the mount's own log (stderr with {@code -f}).
 */
public final class RequestLog {
    private static final int MAX_LINES = 1000;
    private static final DateTimeFormatter TIME = DateTimeFormatter.ISO_OFFSET_DATE_TIME;

    private final Deque<String> lines = new ArrayDeque<>();
    private final Consumer<String> echo;

    public RequestLog(Consumer<String> echo) {
        this.echo = echo;
    }

    /** Adds a line, stamped with the current time. */
    public void add(String message) {
        String line = ZonedDateTime.now().truncatedTo(ChronoUnit.MILLIS).format(TIME) + " " + message;
        synchronized (lines) {
            if (lines.size() == MAX_LINES) {
                lines.removeFirst();
            }
            lines.addLast(line);
        }
        echo.accept(line);
    }

    /** All lines, oldest first, each ending in a newline. */
    public byte[] text() {
        StringBuilder sb = new StringBuilder();
        synchronized (lines) {
            for (String l : lines) {
                sb.append(l).append('\n');
            }
        }
        return sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
