package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link QmpClient} against monitors that misbehave as a real QEMU cannot be made to
 * ({@link FakeMonitor}): one that never accepts, accepts but never greets, or has a full queue
 * (all {@link QmpBusyException} after the limit); one that never replies
 * ({@link QmpTimeoutException}, the session usable after, a late reply skipped) or talks without
 * end but never replies (the same); one that closes
 * mid-reply or sends a message without end (a {@link QmpException} at once, memory bounded); one
 * that speaks something else. And the protocol's details: ids sent and matched, events and foreign
 * replies skipped, messages in pieces, several in one read, pretty-printed, with braces inside
 * strings. QmpClientTest has the real QEMU.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QmpClientProtocolTest {
    private static final Duration ONE_SECOND = Duration.ofSeconds(1);
    private static final Duration TEN_SECONDS = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("qmp.sock");
    }

    /** Runs {@code r}, asserts that it took at least {@code min} and less than {@code max} milliseconds. */
    private static <T extends Throwable> T timed(Class<T> expected, long min, long max,
            org.junit.jupiter.api.function.Executable r) {
        long start = System.nanoTime();
        T e = assertThrows(expected, r);
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(took >= min && took < max, "took " + took + " ms, not " + min + " to " + max + ": " + e);
        return e;
    }

    @Test
    void aServerThatNeverAcceptsIsBusyAfterTheLimit() throws Exception {
        try (FakeMonitor fake = FakeMonitor.neverAccepting(socket(), 1)) {
            QmpBusyException e = timed(QmpBusyException.class, 950, 5000, () -> QmpClient.connect(socket(), ONE_SECOND));
            assertTrue(e.getMessage().contains(socket().toString()) && e.getMessage().contains("within 1 s"),
                    e.getMessage());
        }
    }

    @Test
    void aServerThatAcceptsButNeverGreetsIsBusyAfterTheLimit() throws Exception {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), FakeMonitor.Peer::awaitClose)) {
            QmpBusyException e = timed(QmpBusyException.class, 950, 5000, () -> QmpClient.connect(socket(), ONE_SECOND));
            assertTrue(e.getMessage().contains(socket() + " did not greet within 1 s"), e.getMessage());
        }
    }

    @Test
    void aFullQueueIsBusyAfterTheLimit() throws Exception {
        // a backlog of 1 queues two connections; a third one fails at once with EAGAIN, and is retried
        try (FakeMonitor fake = FakeMonitor.neverAccepting(socket(), 1)) {
            List<SocketChannel> queued = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                    queued.add(c);
                    c.configureBlocking(false);
                    assertTrue(c.connect(UnixDomainSocketAddress.of(socket())));
                }
                QmpBusyException e = timed(QmpBusyException.class, 950, 5000,
                        () -> QmpClient.connect(socket(), ONE_SECOND));
                assertTrue(e.getMessage().contains(socket() + " accepted no connection within 1 s"), e.getMessage());
            } finally {
                for (SocketChannel c : queued) {
                    c.close();
                }
            }
        }
    }

    @Test
    void noReplyIsATimeoutAndALateReplyIsSkipped() throws Throwable {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            JsonNode first = peer.command();
            JsonNode second = peer.command(); // sent after the first timed out
            peer.send(FakeMonitor.Peer.reply(first, "\"late\"") + FakeMonitor.Peer.reply(second, "\"second\""));
            peer.awaitClose();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            QmpTimeoutException e = timed(QmpTimeoutException.class, 450, 3000,
                    () -> qmp.execute("query-status", null, Duration.ofMillis(500)));
            assertTrue(e.getMessage().contains(socket() + " sent no reply to query-status within 500 ms"),
                    e.getMessage());
            assertEquals("second", qmp.execute("query-name", null, TEN_SECONDS).asText());
        }
    }

    /** Events or blank lines without end, and never the reply: a timeout all the same. */
    @ParameterizedTest
    @ValueSource(strings = {"{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 0}}\r\n", "\r\n"})
    void aMonitorThatNeverStopsTalkingStillTimesOut(String line) throws Throwable {
        String lots = line.repeat(65536 / line.length());
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            peer.command();
            try {
                while (true) {
                    peer.send(lots);
                }
            } catch (java.io.IOException closedByClient) {
                return;
            }
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            timed(QmpTimeoutException.class, 450, 3000, () -> qmp.execute("query-status", null, Duration.ofMillis(500)));
        }
    }

    @Test
    void aConnectionClosedMidReplyFailsAtOnceAndForGood() throws Throwable {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            peer.command();
            peer.send("{\"return\": {\"status\": \"runn");
            peer.close();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            QmpException e = timed(QmpException.class, 0, 3000, () -> qmp.execute("query-status", null, TEN_SECONDS));
            assertFalse(e instanceof QmpTimeoutException, e.toString());
            assertTrue(e.getMessage().contains(socket() + " closed the connection while waiting for the reply to"
                    + " query-status"), e.getMessage());
            QmpException again = assertThrows(QmpException.class, () -> qmp.execute("query-status", null, TEN_SECONDS));
            assertTrue(again.getMessage().contains("cannot send query-status: the session broke: "), again.getMessage());
        }
    }

    @Test
    void aMessageWithoutEndFailsAt16MiB() throws Throwable {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            peer.command();
            peer.send("{\"return\": \"");
            String mebibyte = "x".repeat(1 << 20);
            try {
                for (int i = 0; i < 64; i++) {
                    peer.send(mebibyte);
                }
            } catch (java.io.IOException closedByClient) {
                return;
            }
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            QmpException e = timed(QmpException.class, 0, 10_000, () -> qmp.execute("query-status", null,
                    Duration.ofSeconds(30)));
            assertFalse(e instanceof QmpTimeoutException, e.toString());
            assertTrue(e.getMessage().contains(socket() + " sent a message of more than 16 MiB"), e.getMessage());
        }
    }

    @Test
    void aMessageOfAlmost16MiBIsRead() throws Throwable {
        String big = "y".repeat(MessageSplitter.MAX_MESSAGE - 100);
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            peer.send(FakeMonitor.Peer.reply(peer.command(), "\"" + big + "\""));
            peer.awaitClose();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            assertEquals(big.length(), qmp.execute("query-big", null, TEN_SECONDS).asText().length());
        }
    }

    @Test
    void commandsCarryTheirArgumentsAndAnIdOfTheirOwn() throws Throwable {
        ObjectNode args = JSON.createObjectNode().put("device", "drive0").put("name", "snap \"1\" ü");
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            JsonNode withArgs = peer.command();
            assertEquals("blockdev-snapshot-internal-sync", withArgs.path("execute").asText());
            assertEquals(args, withArgs.get("arguments"));
            assertTrue(withArgs.get("id").isTextual(), withArgs.toString());
            peer.send(FakeMonitor.Peer.reply(withArgs, "{}"));
            JsonNode without = peer.command();
            assertFalse(without.has("arguments"), without.toString());
            assertFalse(without.get("id").equals(withArgs.get("id")), without + " after " + withArgs);
            peer.send(FakeMonitor.Peer.reply(without, "[1, 2]"));
            peer.awaitClose();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            assertEquals("7.2.15", qmp.qemuVersion());
            assertEquals(JSON.createObjectNode(), qmp.execute("blockdev-snapshot-internal-sync", args, TEN_SECONDS));
            assertEquals(JSON.readTree("[1,2]"), qmp.execute("query-list", null, TEN_SECONDS));
            qmp.close();
            fake.assertPlayedThrough();
        }
    }

    @Test
    void eventsForeignRepliesAndMessagesInPiecesOrTogether() throws Throwable {
        String event = "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n";
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.sendSlowly(FakeMonitor.GREETING);
            JsonNode caps = peer.command();
            peer.send(event + FakeMonitor.Peer.reply(caps, "{}") + event);
            JsonNode c = peer.command();
            String reply = "{\"id\": " + c.get("id") + ", \"return\": {\"status\": \"}{[\\\"\", \"running\": true}}\r\n";
            peer.send(event + "{\"return\": {}, \"id\": \"someone-else\"}\r\n" + "{\"return\": 42}\r\n"
                    + reply.substring(0, 20));
            Thread.sleep(50);
            peer.sendSlowly(reply.substring(20, 30));
            peer.send(reply.substring(30) + event);
            peer.awaitClose();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            JsonNode status = qmp.execute("query-status", null, TEN_SECONDS);
            assertEquals("}{[\"", status.path("status").asText(), status.toString());
            assertTrue(status.path("running").asBoolean(), status.toString());
        }
    }

    @Test
    void prettyPrintedMessages() throws Throwable {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.send(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(JSON.readTree(FakeMonitor.GREETING))
                    .replace("\n", "\r\n") + "\r\n");
            JsonNode caps = peer.command();
            peer.send("{\r\n    \"return\": {\r\n    },\r\n    \"id\": " + caps.get("id") + "\r\n}\r\n");
            JsonNode c = peer.command();
            peer.send("{\r\n    \"return\": [\r\n        {\r\n            \"device\": \"drive0\"\r\n        }\r\n    ],"
                    + "\r\n    \"id\": " + c.get("id") + "\r\n}\r\n");
            peer.awaitClose();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            assertEquals("drive0", qmp.execute("query-block", null, TEN_SECONDS).path(0).path("device").asText());
        }
    }

    @Test
    void anErrorReplyKeepsQemusWordsAndTheSession() throws Throwable {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.greetAndNegotiate();
            JsonNode c = peer.command();
            peer.send("{\"id\": " + c.get("id") + ", \"error\": {\"class\": \"GenericError\", \"desc\":"
                    + " \"Snapshot with name 'n' already exists on device 'drive0'\"}}\r\n");
            // an error without id: QEMU could not read the input
            peer.command();
            peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword\"}}\r\n");
            peer.awaitClose();
        }); QmpClient qmp = QmpClient.connect(socket(), TEN_SECONDS)) {
            QmpErrorException e = assertThrows(QmpErrorException.class,
                    () -> qmp.execute("blockdev-snapshot-internal-sync", null, TEN_SECONDS));
            assertEquals("GenericError", e.errorClass());
            assertEquals("Snapshot with name 'n' already exists on device 'drive0'", e.description());
            assertEquals("QMP monitor " + socket() + ": blockdev-snapshot-internal-sync failed: Snapshot with name 'n'"
                    + " already exists on device 'drive0' (GenericError)", e.getMessage());
            QmpErrorException parse = assertThrows(QmpErrorException.class, () -> qmp.execute("x", null, TEN_SECONDS));
            assertEquals("JSON parse error, invalid keyword", parse.description());
        }
    }

    @Test
    void somethingElseThanQmp() throws Exception {
        try (FakeMonitor fake = FakeMonitor.playing(socket(), peer -> {
            peer.send("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ");
            peer.awaitClose();
        })) {
            QmpException e = assertThrows(QmpException.class, () -> QmpClient.connect(socket(), TEN_SECONDS));
            assertEquals("QMP monitor " + socket() + " is not a QMP monitor: it sent \"QEMU 7.2.22 monitor - type"
                    + " 'help' for more information\" where a JSON object was due", e.getMessage());
        }
        Path other = dir.resolve("other.sock");
        try (FakeMonitor fake = FakeMonitor.playing(other, peer -> {
            peer.send("{\"hello\": [\"world\"]}\r\n");
            peer.awaitClose();
        })) {
            QmpException e = assertThrows(QmpException.class, () -> QmpClient.connect(other, TEN_SECONDS));
            assertEquals("QMP monitor " + other + " is not a QMP monitor: it greeted with {\"hello\":[\"world\"]}",
                    e.getMessage());
        }
    }

    @Test
    void nothingListening() throws Exception {
        QmpException missing = assertThrows(QmpException.class, () -> QmpClient.connect(socket(), TEN_SECONDS));
        assertFalse(missing instanceof QmpBusyException);
        assertEquals("cannot connect to QMP monitor " + socket() + ": No such file or directory", missing.getMessage());

        // a socket file its server left behind (QEMU killed)
        ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        gone.bind(UnixDomainSocketAddress.of(socket()));
        gone.close();
        QmpException refused = timed(QmpException.class, 0, 1000, () -> QmpClient.connect(socket(), TEN_SECONDS));
        assertEquals("cannot connect to QMP monitor " + socket() + ": Connection refused (nothing listens there:"
                + " has its QEMU exited?)", refused.getMessage());

        Path tooLong = dir.resolve("x".repeat(110) + ".sock");
        QmpException e = assertThrows(QmpException.class, () -> QmpClient.connect(tooLong, TEN_SECONDS));
        assertTrue(e.getMessage().endsWith("the path is longer than the 107 bytes a unix socket address can hold"),
                e.getMessage());
    }

    @Test
    void timeLimitsMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> QmpClient.connect(socket(), Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> QmpClient.connect(socket(), Duration.ofSeconds(-1)));
    }
}
