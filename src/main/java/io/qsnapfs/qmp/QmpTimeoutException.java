package io.qsnapfs.qmp;

/**
 * A command was sent, or was being sent, but no reply came within the time limit: whether QEMU
 * carried it out is unknown. The message names the socket, the command and the limit.
 */
public final class QmpTimeoutException extends QmpException {
    private static final long serialVersionUID = 1L;

    public QmpTimeoutException(String message) {
        super(message);
    }
}
