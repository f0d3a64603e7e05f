package io.qsnapfs.io;

import java.io.IOException;

/**
 * Another open of the image file (a running QEMU, qemu-img, qemu-nbd, or a second qsnapfs) holds a
 * lock that rules out what we asked for. {@link #reason()} says which, in the words QEMU uses for
 * the same conflict, e.g. {@code Failed to get "write" lock}; the message adds QEMU's hint.
 */
public final class LockConflictException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String reason;
    private final long lockByte;

    LockConflictException(String reason, long lockByte) {
        super(reason + ". Is another process using the image?");
        this.reason = reason;
        this.lockByte = lockByte;
    }

    /** What conflicts, as QEMU says it: {@code Failed to get "write" lock}, {@code Failed to get shared "write" lock}. */
    public String reason() {
        return reason;
    }

    /** The byte of the image file whose lock conflicts (100..103 or 200..203). */
    public long lockByte() {
        return lockByte;
    }
}
