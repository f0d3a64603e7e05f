package io.qsnapfs.mount;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Consumer;

/**
 * The recent events of a mount, one line each, shown as {@code control/log}: requests and their
 * outcomes, and images that had to be skipped. Bounded, so a busy mount does not grow it forever.
 * Every line also goes to the mount's own log (stderr with {@code -f}, the journal under systemd).
 *
 * <p>A line is the time in UTC with milliseconds, always 24 characters
 * ({@code 2026-11-22T14:14:04.600Z}), a space and the event. An event is one line whatever it
 * quotes: control characters (a newline in an exception's message, an escape sequence) are
 * written as {@code \xNN}.
 */
public final class RequestLog {
    private static final int MAX_LINES = 1000;
    /** The one format of log times: fixed width, so that lines align and sort as text. */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private final Deque<String> lines = new ArrayDeque<>();
    private final Consumer<String> echo;
    private final Clock clock;

    public RequestLog(Consumer<String> echo) {
        this(echo, Clock.systemUTC());
    }

    RequestLog(Consumer<String> echo, Clock clock) {
        this.echo = echo;
        this.clock = clock;
    }

    /** Adds a line, stamped with the current time. */
    public void add(String message) {
        String line = TIME.format(clock.instant()) + " " + oneLine(message);
        synchronized (lines) {
            if (lines.size() == MAX_LINES) {
                lines.removeFirst();
            }
            lines.addLast(line);
        }
        echo.accept(line);
    }

    /** The message with control characters as {@code \xNN} (backslashes stay: callers escape names). */
    private static String oneLine(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean control = c < 0x20 || (c >= 0x7f && c <= 0x9f); // C0, DEL and C1 (8-bit CSI among them)
            if (control && sb == null) {
                sb = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            if (control) {
                sb.append(String.format("\\x%02x", (int) c));
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? s : sb.toString();
    }

    /** All lines, oldest first, each ending in a newline. */
    public byte[] text() {
        StringBuilder sb = new StringBuilder();
        synchronized (lines) {
            for (String l : lines) {
                sb.append(l).append('\n');
            }
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }
}
