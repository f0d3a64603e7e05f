package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;

/**
 * Which errno each kind of failure is, by name ({@code "EEXIST"}). The one table: the FUSE adapter
 * turns the name into the number, and {@code control/log} shows the name.
 */
public final class ErrnoName {
    private ErrnoName() {
    }

    public static String of(ImageException.Kind kind) {
        return switch (kind) {
            case NOT_FOUND -> "ENOENT";
            case READ_ONLY -> "EROFS";
            case EXISTS -> "EEXIST";
            case BUSY -> "EBUSY";
            case NO_SPACE -> "ENOSPC";
            case INVALID_ARGUMENT -> "EINVAL";
            case NOT_DIRECTORY -> "ENOTDIR";
            case IS_DIRECTORY -> "EISDIR";
            case NO_ATTRIBUTE -> "ENODATA";
            case CORRUPT, UNSUPPORTED, IO -> "EIO";
        };
    }
}
