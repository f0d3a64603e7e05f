package io.qsnapfs.qmp;

/**
 * QEMU answered a command with an error: {@code {"error": {"class": ..., "desc": ...}}}. The
 * command was refused or failed; the session stays usable.
 */
public final class QmpErrorException extends QmpException {
    private static final long serialVersionUID = 1L;

    private final String errorClass;
    private final String description;

    /**
     * @param message for a person: names the socket and the command, and quotes the description
     * @param errorClass QEMU's error class, e.g. {@code GenericError}, {@code CommandNotFound}
     * @param description QEMU's text, e.g. {@code Snapshot with name 'n' already exists on device 'drive0'}
     */
    public QmpErrorException(String message, String errorClass, String description) {
        super(message);
        this.errorClass = errorClass;
        this.description = description;
    }

    /** QEMU's error class ({@code "class"}), e.g. {@code GenericError}, {@code CommandNotFound}; empty if it sent none. */
    public String errorClass() {
        return errorClass;
    }

    /** QEMU's description of the error ({@code "desc"}), verbatim; empty if it sent none. */
    public String description() {
        return description;
    }
}
