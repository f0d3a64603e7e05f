package io.qsnapfs.qmp;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Cuts the byte stream a QMP monitor sends into its messages: one JSON object each, however the
 * bytes arrive (a message split over many reads, several in one read). A compact monitor ends
 * every message with {@code \r\n}; a pretty one ({@code -qmp-pretty}, {@code -mon pretty=on})
 * spreads each over many lines. So messages are not cut at line ends but where the object closes:
 * the splitter follows the nesting of braces and brackets outside strings (a string's escapes
 * included), which is all the JSON grammar it knows; the parsing proper is Jackson's.
 *
 * <p>Owns the bytes received and not yet handed out, and bounds them: a message longer than
 * {@link #MAX_MESSAGE} bytes, or anything but whitespace between objects, is a
 * {@link QmpException} naming the source, so a peer that never ends a message cannot exhaust
 * memory. Used by one thread: {@link #next} until it yields null, then {@link #feed} more.
 */
final class MessageSplitter {
    /** The most bytes one message may have: 16 MiB (QEMU's longest replies are a few hundred KiB). */
    static final int MAX_MESSAGE = 16 << 20;

    /** What the bytes come from, to begin messages with, e.g. {@code QMP monitor /run/vm.sock}. */
    private final String source;
    private byte[] buffer = new byte[8192];
    /** The bytes not yet handed out are {@code buffer[start, end)}. */
    private int start;
    private int end;
    /** How far the bytes of the message in progress have been looked at. */
    private int scanned;
    /** Where the message in progress begins, or -1 while whitespace between messages is skipped. */
    private int messageStart = -1;
    /** Open braces and brackets of the message in progress. */
    private int depth;
    private boolean inString;
    /** The last byte was a backslash inside a string. */
    private boolean escaped;

    MessageSplitter(String source) {
        this.source = source;
    }

    /** Appends the bytes remaining in {@code bytes} (consuming them). */
    void feed(ByteBuffer bytes) throws QmpException {
        int n = bytes.remaining();
        if ((long) (end - start) + n > MAX_MESSAGE) {
            throw new QmpException(source + " sent a message of more than " + (MAX_MESSAGE >> 20)
                    + " MiB (or no end of one)");
        }
        if (end + n > buffer.length) {
            compact();
            if (end + n > buffer.length) {
                buffer = Arrays.copyOf(buffer, Math.max(end + n, Math.min(2 * buffer.length, MAX_MESSAGE + n)));
            }
        }
        bytes.get(buffer, end, n);
        end += n;
    }

    /** Moves the bytes not yet handed out to the start of the buffer. */
    private void compact() {
        if (start == 0) {
            return;
        }
        System.arraycopy(buffer, start, buffer, 0, end - start);
        scanned -= start;
        if (messageStart >= 0) {
            messageStart -= start;
        }
        end -= start;
        start = 0;
    }

    /**
     * The next complete message, its bytes exactly from its opening to its closing brace, or null
     * when the bytes received so far end inside one (or between two).
     *
     * @throws QmpException something other than a JSON object arrived, e.g. the banner of a human
     *         monitor ({@code QEMU 7.2.0 monitor - type 'help' ...}); the message quotes its start
     */
    byte[] next() throws QmpException {
        while (scanned < end) {
            byte b = buffer[scanned++];
            if (messageStart < 0) {
                if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                    start = scanned;
                    continue;
                }
                if (b != '{') {
                    throw new QmpException(source + " is not a QMP monitor: it sent \"" + printable(scanned - 1)
                            + "\" where a JSON object was due");
                }
                messageStart = scanned - 1;
                depth = 1;
                continue;
            }
            if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (b == '\\') {
                    escaped = true;
                } else if (b == '"') {
                    inString = false;
                }
            } else if (b == '"') {
                inString = true;
            } else if (b == '{' || b == '[') {
                depth++;
            } else if ((b == '}' || b == ']') && --depth == 0) {
                byte[] message = Arrays.copyOfRange(buffer, messageStart, scanned);
                messageStart = -1;
                start = scanned;
                return message;
            }
        }
        return null;
    }

    /**
     * What was received from {@code from} up to the end of its line, at most 80 bytes; control
     * characters and non-ASCII shown as '?'.
     */
    private String printable(int from) {
        StringBuilder s = new StringBuilder();
        for (int i = from; i < end && s.length() < 80 && buffer[i] != '\r' && buffer[i] != '\n'; i++) {
            int c = buffer[i] & 0xff;
            s.append(c >= 0x20 && c < 0x7f ? (char) c : '?');
        }
        return s.toString();
    }
}
