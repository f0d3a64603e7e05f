package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link MessageSplitter} cuts a stream into JSON objects where they close, whatever the pieces it
 * arrives in: strings with braces, escaped quotes and escaped backslashes, nested arrays,
 * multi-byte UTF-8, whitespace and line ends between messages; and refuses what is no object and
 * a message past its bound.
 */
class MessageSplitterTest {
    private static final String STREAM = "{\"a\": \"}{][\"}\r\n"
            + "  {\"b\": \"quote \\\" and backslash \\\\\", \"c\": [[1], {\"d\": []}]}"
            + "{\"e\": \"\\\\\\\"}\", \"f\": \"ü€\"}\n\n"
            + "{\r\n    \"g\": {\r\n    }\r\n}\r\n";
    private static final List<String> MESSAGES = List.of("{\"a\": \"}{][\"}",
            "{\"b\": \"quote \\\" and backslash \\\\\", \"c\": [[1], {\"d\": []}]}",
            "{\"e\": \"\\\\\\\"}\", \"f\": \"ü€\"}",
            "{\r\n    \"g\": {\r\n    }\r\n}");

    /** Feeds the stream in pieces of {@code size} bytes, taking every message after each piece. */
    private static List<String> split(byte[] stream, int size) throws QmpException {
        MessageSplitter s = new MessageSplitter("test");
        List<String> out = new ArrayList<>();
        for (int at = 0; at < stream.length; at += size) {
            s.feed(ByteBuffer.wrap(stream, at, Math.min(size, stream.length - at)));
            for (byte[] m = s.next(); m != null; m = s.next()) {
                out.add(new String(m, StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    @Test
    void cutWhereObjectsCloseWhateverThePieces() throws QmpException {
        byte[] stream = STREAM.getBytes(StandardCharsets.UTF_8);
        for (int size = 1; size <= stream.length; size++) {
            assertEquals(MESSAGES, split(stream, size), "pieces of " + size);
        }
    }

    @Test
    void anUnfinishedMessageWaits() throws QmpException {
        MessageSplitter s = new MessageSplitter("test");
        s.feed(ByteBuffer.wrap("{\"a\": \"}".getBytes(StandardCharsets.UTF_8)));
        assertNull(s.next());
        s.feed(ByteBuffer.wrap("\"}".getBytes(StandardCharsets.UTF_8)));
        assertEquals("{\"a\": \"}\"}", new String(s.next(), StandardCharsets.UTF_8));
        assertNull(s.next());
    }

    @Test
    void onlyObjects() throws QmpException {
        MessageSplitter s = new MessageSplitter("monitor X");
        s.feed(ByteBuffer.wrap("{}\r\n[1]\r\n".getBytes(StandardCharsets.UTF_8)));
        assertEquals("{}", new String(s.next(), StandardCharsets.UTF_8));
        QmpException e = assertThrows(QmpException.class, s::next);
        assertEquals("monitor X is not a QMP monitor: it sent \"[1]\" where a JSON object was due", e.getMessage());
    }

    @Test
    void boundedAt16MiB() throws QmpException {
        MessageSplitter s = new MessageSplitter("monitor X");
        byte[] mebibyte = new byte[1 << 20];
        java.util.Arrays.fill(mebibyte, (byte) 'x');
        s.feed(ByteBuffer.wrap("{\"x\": \"".getBytes(StandardCharsets.UTF_8)));
        for (int i = 0; i < 15; i++) {
            assertNull(s.next());
            s.feed(ByteBuffer.wrap(mebibyte));
        }
        assertNull(s.next());
        QmpException e = assertThrows(QmpException.class, () -> s.feed(ByteBuffer.wrap(mebibyte)));
        assertTrue(e.getMessage().startsWith("monitor X sent a message of more than 16 MiB"), e.getMessage());
    }
}
