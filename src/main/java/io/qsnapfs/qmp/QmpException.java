package io.qsnapfs.qmp;

import java.io.IOException;

/**
 * Any failure talking to a QMP monitor: it cannot be reached, it is not a QMP monitor, it closed
 * the connection or broke the protocol. The message names the socket. The subclasses say more
 * where a caller can act on it: {@link QmpBusyException}, {@link QmpTimeoutException},
 * {@link QmpErrorException}.
 */
public class QmpException extends IOException {
    private static final long serialVersionUID = 1L;

    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}
