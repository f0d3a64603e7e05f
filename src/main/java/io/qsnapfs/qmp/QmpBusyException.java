package io.qsnapfs.qmp;

/**
 * The monitor did not greet within the time limit. A QMP monitor serves one client at a time:
 * while another holds it (libvirt, a second tool) the kernel queues further connections, and QEMU
 * greets them only when that client has gone; or QEMU hangs. The message names the socket and the
 * limit.
 */
public final class QmpBusyException extends QmpException {
    private static final long serialVersionUID = 1L;

    public QmpBusyException(String message) {
        super(message);
    }
}
