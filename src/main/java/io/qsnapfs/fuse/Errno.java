package io.qsnapfs.fuse;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.mount.ErrnoName;
import io.qsnapfs.mount.RequestFailure;
import ru.serce.jnrfuse.ErrorCodes;

/**
 * The one place where failures become errnos (negative, as libfuse wants them). Which errno a kind
 * of failure is comes from {@link ErrnoName}, so the numbers here and the names in
 * {@code control/log} cannot disagree.
 */
final class Errno {
    private Errno() {
    }

    static int of(Throwable t) {
        if (t instanceof ImageException e) {
            return -jnr.constants.platform.Errno.valueOf(ErrnoName.of(e.kind())).intValue();
        }
        return -ErrorCodes.EIO();
    }

    /** True for failures worth a line in the log: the unexpected ones, unless logged already. */
    static boolean worthLogging(Throwable t) {
        return !(t instanceof RequestFailure) && -of(t) == ErrorCodes.EIO();
    }
}
