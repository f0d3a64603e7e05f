package io.qsnapfs.fuse;

/** The mount could not be set up; the message says why, for the person who asked. */
public final class MountException extends Exception {
    private static final long serialVersionUID = 1L;

    public MountException(String message) {
        super(message);
    }

    public MountException(String message, Throwable cause) {
        super(message, cause);
    }
}
