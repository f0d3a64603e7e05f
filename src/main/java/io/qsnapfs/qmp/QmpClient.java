package io.qsnapfs.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * One QMP session on a QEMU monitor's unix socket ({@code docs/interop/qmp-spec.rst}): the
 * greeting, capabilities negotiation, then commands one at a time, each matched with its reply by
 * an {@code "id"} of ours. Owns the connection ({@link MonitorChannel}) and the state of the
 * session: QEMU's version, the next id, and whether the session is still usable.
 *
 * <p>Every wait has a time limit, and nothing blocks beyond it. Asynchronous events
 * ({@code {"event": ...}}), which may arrive at any time, and replies to earlier commands that came
 * too late are skipped. After a {@link QmpTimeoutException} the session stays usable, unless the
 * command could be sent only in part; after QEMU closed the connection or broke the protocol, or
 * after an interrupt, every further command fails at once saying why. A monitor serves one client at a time, so a session
 * should be closed as soon as it is no longer needed. Not thread-safe.
 */
public final class QmpClient implements Closeable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The longest limit taken as given; longer ones are cut to it (a deadline must not overflow). */
    private static final Duration LONGEST = Duration.ofDays(365);
    /** How much of an unexpected message an exception's message quotes. */
    private static final int QUOTE_CHARS = 200;

    private final MonitorChannel channel;
    private final String qemuVersion;
    private long commandsSent;
    /** Why no further command can be sent, or null while the session is usable. */
    private String unusable;

    private QmpClient(MonitorChannel channel, String qemuVersion) {
        this.channel = channel;
        this.qemuVersion = qemuVersion;
    }

    /**
     * Connects to the monitor at {@code socket}, reads its greeting and negotiates capabilities
     * ({@code qmp_capabilities}), all within {@code timeout}.
     *
     * @throws QmpBusyException no greeting came in time: another client holds the monitor, or QEMU
     *         hangs; the message names the socket and the limit
     * @throws QmpException nothing listens on the socket, or it is no QMP monitor (a human monitor
     *         greets with a line of text); the message names the socket and the reason
     * @throws IllegalArgumentException {@code timeout} is not positive
     */
    public static QmpClient connect(Path socket, Duration timeout) throws QmpException {
        Objects.requireNonNull(socket, "socket");
        long deadline = deadline(timeout);
        String limit = describe(timeout);
        MonitorChannel channel = MonitorChannel.connect(socket, deadline, limit);
        try {
            byte[] greeting = channel.receive(deadline, "its greeting");
            if (greeting == null) {
                throw new QmpBusyException(channel.name() + " did not greet within " + limit + ": a monitor serves"
                        + " one client at a time, and another one holds it (libvirt, a second tool), or its QEMU"
                        + " hangs");
            }
            QmpClient client = new QmpClient(channel, versionIn(channel, parse(channel, greeting)));
            client.send("qmp_capabilities", null, deadline, limit);
            return client;
        } catch (QmpException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** The version of QEMU a greeting names, {@code major.minor.micro}. */
    private static String versionIn(MonitorChannel channel, JsonNode greeting) throws QmpException {
        JsonNode qmp = greeting.get("QMP");
        if (qmp == null || !qmp.isObject()) {
            throw new QmpException(channel.name() + " is not a QMP monitor: it greeted with " + quote(greeting));
        }
        JsonNode qemu = qmp.path("version").path("qemu");
        StringBuilder version = new StringBuilder();
        for (String part : new String[] {"major", "minor", "micro"}) {
            JsonNode n = qemu.get(part);
            if (n == null || !n.canConvertToInt()) {
                throw new QmpException(channel.name() + " greeted without QEMU's version: " + quote(greeting));
            }
            version.append(version.length() == 0 ? "" : ".").append(n.intValue());
        }
        return version.toString();
    }

    /** QEMU's version from the greeting, e.g. {@code 7.2.15}. */
    public String qemuVersion() {
        return qemuVersion;
    }

    /**
     * Sends one command and waits at most {@code timeout} for its reply.
     *
     * @param command the command, e.g. {@code query-block}
     * @param arguments its arguments, or null for none
     * @return the reply's {@code "return"} value (an empty object for commands that return nothing)
     * @throws QmpErrorException QEMU answered with an error; its class and description are QEMU's
     * @throws QmpTimeoutException no reply came in time: whether QEMU carried the command out is unknown
     * @throws QmpException the connection closed (QEMU quit), QEMU broke the protocol, or the session
     *         was already unusable or closed
     * @throws IllegalArgumentException {@code timeout} is not positive
     */
    public JsonNode execute(String command, ObjectNode arguments, Duration timeout) throws QmpException {
        Objects.requireNonNull(command, "command");
        return send(command, arguments, deadline(timeout), describe(timeout));
    }

    private JsonNode send(String command, ObjectNode arguments, long deadline, String limit) throws QmpException {
        if (unusable != null) {
            throw new QmpException(channel.name() + ": cannot send " + command + ": " + unusable);
        }
        String id = "qsnapfs-" + ++commandsSent;
        ObjectNode request = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            request.set("arguments", arguments);
        }
        request.put("id", id);
        ByteBuffer bytes = ByteBuffer.wrap((request.toString() + "\n").getBytes(StandardCharsets.UTF_8));
        boolean sent;
        try {
            sent = channel.writeAll(bytes, deadline, command);
        } catch (QmpException e) {
            throw unusable(e);
        }
        if (!sent) {
            if (bytes.position() > 0) {
                unusable = "an earlier command (" + command + ") could be sent only in part";
            }
            throw new QmpTimeoutException(channel.name() + " did not take all of " + command + " within " + limit
                    + ": whether QEMU carried it out is unknown");
        }
        TextNode ourId = new TextNode(id);
        while (true) {
            JsonNode reply;
            try {
                byte[] message = channel.receive(deadline, "the reply to " + command);
                if (message == null) {
                    throw new QmpTimeoutException(channel.name() + " sent no reply to " + command + " within " + limit
                            + ": whether QEMU carried it out is unknown");
                }
                reply = parse(channel, message);
            } catch (QmpTimeoutException e) {
                throw e;
            } catch (QmpException e) {
                throw unusable(e);
            }
            JsonNode replyId = reply.get("id");
            // A reply without an id is one to input QEMU could not read; ours is the only input in flight.
            boolean ours = replyId == null ? reply.has("error") && !reply.has("event") : replyId.equals(ourId);
            if (!ours) {
                continue; // an event, or a late reply to an earlier command
            }
            JsonNode value = reply.get("return");
            if (value != null) {
                return value;
            }
            JsonNode error = reply.get("error");
            if (error != null) {
                String errorClass = error.path("class").asText("");
                String description = error.path("desc").asText("");
                throw new QmpErrorException(channel.name() + ": " + command + " failed: " + description + " ("
                        + errorClass + ")", errorClass, description);
            }
            throw unusable(new QmpException(channel.name() + " answered " + command
                    + " with neither a return value nor an error: " + quote(reply)));
        }
    }

    /** Marks the session unusable for the reason {@code e} gives, and returns {@code e}. */
    private QmpException unusable(QmpException e) {
        unusable = "the session broke: " + e.getMessage();
        channel.close();
        return e;
    }

    private static JsonNode parse(MonitorChannel channel, byte[] message) throws QmpException {
        try {
            return JSON.readTree(message);
        } catch (IOException e) {
            throw new QmpException(channel.name() + " sent a message that is no valid JSON: " + e.getMessage(), e);
        }
    }

    /** A message as JSON text, cut to {@link #QUOTE_CHARS} characters. */
    private static String quote(JsonNode message) {
        String text = message.toString();
        return text.length() <= QUOTE_CHARS ? text : text.substring(0, QUOTE_CHARS) + "...";
    }

    /** The {@link System#nanoTime()} at which {@code timeout} from now ends. */
    private static long deadline(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("a QMP time limit must be positive: " + timeout);
        }
        return System.nanoTime() + capped(timeout).toNanos();
    }

    private static Duration capped(Duration timeout) {
        return timeout.compareTo(LONGEST) > 0 ? LONGEST : timeout;
    }

    /** A time limit for a message: {@code 2 s}, {@code 500 ms}. */
    private static String describe(Duration timeout) {
        long millis = capped(timeout).toMillis();
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }

    /**
     * Ends the session: closes the connection, so that QEMU greets the next client. Calling it
     * again does nothing.
     */
    @Override
    public void close() {
        if (unusable == null) {
            unusable = "the session has been closed";
        }
        channel.close();
    }

    @Override
    public String toString() {
        return "QMP session on " + channel.socket() + " (QEMU " + qemuVersion + ")";
    }
}
