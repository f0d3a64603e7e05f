package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A server on a unix socket that plays a QMP monitor the way no QEMU does on purpose: one that
 * never accepts or never greets, answers late or never, closes mid-message, sends endless
 * messages, or sends them a byte at a time. It serves one client with a {@link Script} on a thread
 * of its own, in blocking I/O; {@link #close} ends it. What a script throws (its assertions on what
 * the client sent) {@link #assertPlayedThrough} rethrows.
 */
final class FakeMonitor implements AutoCloseable {
    /** A greeting as QEMU 7.2 sends it, for version 7.2.15. */
    static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 15, \"minor\": 2, \"major\": 7},"
            + " \"package\": \"Debian 1:7.2+dfsg-7+deb12u15\"}, \"capabilities\": [\"oob\"]}}\r\n";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the server does with the client it accepted. */
    interface Script {
        void play(Peer peer) throws Exception;
    }

    private final ServerSocketChannel server;
    private final Thread thread;
    private volatile SocketChannel client;
    private volatile Throwable failure;

    private FakeMonitor(ServerSocketChannel server, Script script) {
        this.server = server;
        this.thread = script == null ? null : new Thread(() -> serve(script), "fake QMP monitor");
        if (thread != null) {
            thread.setDaemon(true);
            thread.start();
        }
    }

    /** A server on {@code socket} with a listen queue of {@code backlog} that never accepts a connection. */
    static FakeMonitor neverAccepting(Path socket, int backlog) throws IOException {
        return new FakeMonitor(bind(socket, backlog), null);
    }

    /** A server on {@code socket} that accepts one client and plays {@code script} with it. */
    static FakeMonitor playing(Path socket, Script script) throws IOException {
        return new FakeMonitor(bind(socket, 1), script);
    }

    private static ServerSocketChannel bind(Path socket, int backlog) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket), backlog);
        return server;
    }

    private void serve(Script script) {
        try {
            client = server.accept();
            script.play(new Peer(client));
        } catch (Throwable t) {
            failure = t;
        }
    }

    /** Waits for the script to end and rethrows what it threw. */
    void assertPlayedThrough() throws Throwable {
        thread.join(TimeUnit.SECONDS.toMillis(10));
        if (failure != null) {
            throw failure;
        }
    }

    /** Closes the server and the client's connection, and waits for the script to end. */
    @Override
    public void close() throws Exception {
        server.close();
        SocketChannel c = client;
        if (c != null) {
            c.close();
        }
        if (thread != null) {
            thread.interrupt();
            thread.join(TimeUnit.SECONDS.toMillis(10));
        }
    }

    /** The server's end of one connection, in blocking I/O. */
    static final class Peer {
        private final SocketChannel channel;

        Peer(SocketChannel channel) {
            this.channel = channel;
        }

        /** Sends {@code text} in one write. */
        void send(String text) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                channel.write(b);
            }
        }

        /** Sends {@code text} a byte at a time, pausing after each, so that the client reads it in pieces. */
        void sendSlowly(String text) throws IOException, InterruptedException {
            for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
                channel.write(ByteBuffer.wrap(new byte[] {b}));
                Thread.sleep(1);
            }
        }

        /** Reads the client's next command (one line) and parses it. */
        JsonNode command() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer one = ByteBuffer.allocate(1);
            while (true) {
                one.clear();
                if (channel.read(one) < 0) {
                    throw new IOException("the client closed the connection; got: " + line);
                }
                if (one.get(0) == '\n') {
                    return JSON.readTree(line.toByteArray());
                }
                line.write(one.get(0));
            }
        }

        /** The reply QEMU would send to {@code command} with this return value (JSON text). */
        static String reply(JsonNode command, String returnValue) {
            return "{\"return\": " + returnValue + ", \"id\": " + command.get("id") + "}\r\n";
        }

        /** Greets, and answers the client's {@code qmp_capabilities}. */
        void greetAndNegotiate() throws IOException {
            send(GREETING);
            JsonNode c = command();
            assertEquals("qmp_capabilities", c.path("execute").asText(), c.toString());
            send(reply(c, "{}"));
        }

        /** Reads and drops what the client sends until it closes the connection (or the server is closed). */
        void awaitClose() {
            ByteBuffer b = ByteBuffer.allocate(4096);
            try {
                while (channel.read(b.clear()) >= 0) {
                    // dropped
                }
            } catch (IOException e) {
                // closed by close()
            }
        }

        void close() throws IOException {
            channel.close();
        }
    }
}
