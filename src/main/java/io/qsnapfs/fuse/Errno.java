package io.qsnapfs.fuse;

import io.qsnapfs.engine.ImageException;
import ru.serce.jnrfuse.ErrorCodes;

/** The one place where failures become errnos (negative, as libfuse wants them). */
final class Errno {
    private Errno() {
    }

    static int of(Throwable t) {
        if (t instanceof ImageException e) {
            return -switch (e.kind()) {
                case NOT_FOUND -> ErrorCodes.ENOENT();
                case READ_ONLY -> ErrorCodes.EROFS();
                case EXISTS -> ErrorCodes.EEXIST();
                case BUSY -> ErrorCodes.EBUSY();
                case NO_SPACE -> ErrorCodes.ENOSPC();
                case INVALID_ARGUMENT -> ErrorCodes.EINVAL();
                case NOT_DIRECTORY -> ErrorCodes.ENOTDIR();
                case IS_DIRECTORY -> ErrorCodes.EISDIR();
                case CORRUPT, UNSUPPORTED, IO -> ErrorCodes.EIO();
            };
        }
        return -ErrorCodes.EIO();
    }

    /** True for failures worth a line in the log (the unexpected ones). */
    static boolean worthLogging(Throwable t) {
        return -of(t) == ErrorCodes.EIO();
    }
}
