package io.qsnapfs.qmp;

import java.io.Closeable;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The connection to one QMP monitor's unix socket, used without ever blocking: a non-blocking
 * channel and a selector, and every connect, write and read waits at most until a deadline (a
 * {@link System#nanoTime()} value). Owns the channel, the selector and the {@link MessageSplitter}
 * that turns what arrives into messages. Knows nothing of QMP's content.
 *
 * <p>A monitor that serves another client still lets the kernel queue a connection (QEMU listens
 * with a backlog of one); when the queue is full too, a non-blocking connect fails at once with
 * {@code EAGAIN}, which this class retries until the deadline, like a queued client waiting.
 */
final class MonitorChannel implements Closeable {
    /** The longest socket path the kernel takes ({@code sun_path} is 108 bytes with its NUL). */
    private static final int MAX_PATH_BYTES = 107;
    /** How long to wait before trying again to connect to a monitor whose queue is full. */
    private static final long RETRY_MILLIS = 10;
    private static final int READ_CHUNK = 64 << 10;
    /** {@code st_mode}'s file type bits, and their value for a socket. */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path socket;
    /** {@code QMP monitor /path}, to begin messages with. */
    private final String name;
    private final SocketChannel channel;
    private final Selector selector;
    private final SelectionKey key;
    private final MessageSplitter splitter;
    private final ByteBuffer chunk = ByteBuffer.allocate(READ_CHUNK);

    private MonitorChannel(Path socket, SocketChannel channel, Selector selector) throws IOException {
        this.socket = socket;
        this.name = describe(socket);
        this.channel = channel;
        this.selector = selector;
        this.key = channel.register(selector, 0);
        this.splitter = new MessageSplitter(name);
    }

    /** {@code QMP monitor SOCKET}, the way messages name a monitor. */
    private static String describe(Path socket) {
        return "QMP monitor " + socket;
    }

    /**
     * Connects to {@code socket} by the deadline.
     *
     * @throws QmpBusyException the monitor's queue of waiting clients stayed full until the deadline
     * @throws QmpException nothing listens there (no such file, {@code Connection refused} from a
     *         socket its QEMU left behind), or another reason the kernel gave; the message names the
     *         socket and quotes the reason
     */
    static MonitorChannel connect(Path socket, long deadline, String limit) throws QmpException {
        String name = describe(socket);
        if (socket.toString().getBytes(pathEncoding()).length > MAX_PATH_BYTES) {
            throw new QmpException("cannot connect to " + name + ": the path is longer than the "
                    + MAX_PATH_BYTES + " bytes a unix socket address can hold");
        }
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(socket);
        while (true) {
            SocketChannel channel = null;
            Selector selector = null;
            try {
                channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                channel.configureBlocking(false);
                selector = Selector.open();
                MonitorChannel connection = new MonitorChannel(socket, channel, selector);
                connection.finishConnect(channel.connect(address), deadline, limit);
                return connection;
            } catch (ConnectException e) {
                close(channel, selector);
                throw new QmpException("cannot connect to " + name + ": " + e.getMessage()
                        + " (nothing listens there: has its QEMU exited?)", e);
            } catch (SocketException e) {
                close(channel, selector);
                if (e.getClass() != SocketException.class || !isSocket(socket)) {
                    throw new QmpException("cannot connect to " + name + ": " + e.getMessage(), e);
                }
                // EAGAIN, the only error a connect to a listening socket gives: its queue is full.
                if (remainingNanos(deadline) <= 0) {
                    throw new QmpBusyException(name + " accepted no connection within " + limit + " ("
                            + e.getMessage() + "): it serves one client at a time, and another one holds it"
                            + " while more wait");
                }
                pause(name);
            } catch (QmpException e) {
                close(channel, selector);
                throw e;
            } catch (IOException e) {
                close(channel, selector);
                throw new QmpException("cannot connect to " + name + ": " + e.getMessage(), e);
            }
        }
    }

    /** The encoding the JDK gives file names to the kernel in. */
    private static Charset pathEncoding() {
        try {
            return Charset.forName(System.getProperty("sun.jnu.encoding"));
        } catch (RuntimeException e) {
            return Charset.defaultCharset();
        }
    }

    /** Completes a connect the kernel did not complete at once (it does for unix sockets). */
    private void finishConnect(boolean connected, long deadline, String limit) throws IOException {
        if (!connected) {
            key.interestOps(SelectionKey.OP_CONNECT);
            while (!channel.finishConnect()) {
                if (!await(deadline)) {
                    throw new QmpBusyException(name + " accepted no connection within " + limit);
                }
            }
        }
    }

    /** Whether {@code p} is a unix socket (links followed). */
    private static boolean isSocket(Path p) {
        try {
            return ((Integer) Files.getAttribute(p, "unix:mode") & S_IFMT) == S_IFSOCK;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static void pause(String name) throws QmpException {
        try {
            Thread.sleep(RETRY_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while connecting to " + name, e);
        }
    }

    /** The socket's path as given to {@link #connect}. */
    Path socket() {
        return socket;
    }

    /** {@code QMP monitor SOCKET}, the way messages name this monitor. */
    String name() {
        return name;
    }

    /**
     * Writes all of {@code bytes} by the deadline. Returns false when the deadline came first, with
     * part of them possibly written.
     *
     * @param what what the bytes are, for the message of the exception, e.g. {@code query-block}
     * @throws QmpException the peer has closed the connection, or another write error
     */
    boolean writeAll(ByteBuffer bytes, long deadline, String what) throws QmpException {
        try {
            while (bytes.hasRemaining()) {
                if (channel.write(bytes) == 0) {
                    key.interestOps(SelectionKey.OP_WRITE);
                    if (!await(deadline)) {
                        return false;
                    }
                }
            }
            return true;
        } catch (QmpException e) {
            throw e;
        } catch (IOException e) {
            throw new QmpException(name + " closed the connection before " + what + " was sent (" + e.getMessage()
                    + "; has its QEMU exited?)", e);
        }
    }

    /**
     * The next message that arrives, as the bytes of one JSON object, or null when none is
     * complete by the deadline.
     *
     * @param waitingFor what the caller waits for, for the message of the exception, e.g. {@code
     *        the reply to query-block}
     * @throws QmpException the peer closed the connection first (or reset it); what arrives is no
     *         QMP (see {@link MessageSplitter#next})
     */
    byte[] receive(long deadline, String waitingFor) throws QmpException {
        try {
            while (true) {
                byte[] message = splitter.next();
                if (message != null) {
                    return message;
                }
                if (remainingNanos(deadline) <= 0) {
                    return null; // a peer that never stops sending (whitespace, say) must not keep us
                }
                chunk.clear();
                int n = channel.read(chunk);
                if (n < 0) {
                    throw new QmpException(name + " closed the connection while waiting for " + waitingFor
                            + " (has its QEMU exited?)");
                }
                if (n == 0) {
                    key.interestOps(SelectionKey.OP_READ);
                    if (!await(deadline)) {
                        return null;
                    }
                    continue;
                }
                chunk.flip();
                splitter.feed(chunk);
            }
        } catch (QmpException e) {
            throw e;
        } catch (IOException e) {
            // ECONNRESET: it closed with our input unread
            throw new QmpException(name + " closed the connection while waiting for " + waitingFor + " ("
                    + e.getMessage() + "; has its QEMU exited?)", e);
        }
    }

    /**
     * Waits until the channel is ready for the operations of the key's interest set, or the
     * deadline passes (false). An interrupt ends the wait with an exception, the interrupt kept.
     */
    private boolean await(long deadline) throws IOException {
        while (true) {
            long left = remainingNanos(deadline);
            if (left <= 0) {
                return false;
            }
            // select(0) would wait for ever: wait at least a millisecond
            int ready = selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left + 999_999)));
            selector.selectedKeys().clear();
            if (Thread.currentThread().isInterrupted()) {
                throw new QmpException("interrupted while waiting for " + name);
            }
            if (ready > 0) {
                return true;
            }
        }
    }

    /** Nanoseconds until the deadline; zero or less when it has passed. */
    private static long remainingNanos(long deadline) {
        return deadline - System.nanoTime();
    }

    /** Closes the selector and the channel. Calling it again does nothing. */
    @Override
    public void close() {
        close(channel, selector);
    }

    private static void close(SocketChannel channel, Selector selector) {
        try {
            if (selector != null) {
                selector.close();
            }
        } catch (IOException ignored) {
            // nothing is left to do with it
        }
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // nothing is left to do with it
        }
    }
}
