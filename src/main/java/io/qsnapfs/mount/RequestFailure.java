package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;

/**
 * A control request that failed. Its line in {@code control/log} is written already, so the FUSE
 * adapter does not log it a second time; the kind still decides the errno.
 */
public final class RequestFailure extends ImageException {
    private static final long serialVersionUID = 1L;

    RequestFailure(Kind kind, String message, Throwable cause) {
        super(kind, message, cause);
    }
}
