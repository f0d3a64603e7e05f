package io.qsnapfs.engine;

/**
 * The one exception the engine throws. The message is meant for a person: it names the image and
 * says what is wrong with it. {@link Kind} lets outer layers (CLI exit codes, FUSE errnos) react
 * without parsing messages.
 */
public class ImageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What sort of failure this is; outer layers map it to an exit status or an errno. */
    public enum Kind {
        /** The image violates the qcow2 specification or our safety limits. */
        CORRUPT,
        /** The image is valid but uses something we do not implement (or refuse to, like encryption). */
        UNSUPPORTED,
        /** A snapshot or file that was asked for does not exist. */
        NOT_FOUND,
        /** The request itself is malformed (a bad name, an argument out of range). */
        INVALID_ARGUMENT,
        /** The operating system reported an I/O error. */
        IO,
        /** A write was asked of something that is read-only (a snapshot file, a read-only mount). */
        READ_ONLY,
        /** The thing to be created exists already (a snapshot name that is taken). */
        EXISTS,
        /** Something else holds the image or the file (a running QEMU, an open snapshot file). */
        BUSY,
        /** The file system has no room for the write. */
        NO_SPACE,
        /** A path names a file where a directory was expected. */
        NOT_DIRECTORY,
        /** A path names a directory where a file was expected. */
        IS_DIRECTORY,
        /** A file has no extended attribute of the name asked for. */
        NO_ATTRIBUTE
    }

    private final Kind kind;

    public ImageException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public ImageException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    public static ImageException corrupt(String image, String what) {
        return new ImageException(Kind.CORRUPT, image + ": " + what);
    }

    public static ImageException unsupported(String image, String what) {
        return new ImageException(Kind.UNSUPPORTED, image + ": " + what);
    }

    public static ImageException notFound(String image, String what) {
        return new ImageException(Kind.NOT_FOUND, image + ": " + what);
    }

    /** An I/O failure; a full file system is {@link Kind#NO_SPACE}, the rest {@link Kind#IO}. */
    public static ImageException io(String image, String what, Throwable cause) {
        String reason = reason(cause);
        Kind kind = reason.contains("No space left on device") || reason.contains("Disk quota exceeded")
                ? Kind.NO_SPACE : Kind.IO;
        return new ImageException(kind, image + ": " + what + ": " + reason, cause);
    }

    /**
     * What went wrong, in the operating system's words. The java.nio.file exceptions carry only the
     * file name as their message (a missing file reads "x.qcow2", not why); they get the reason the
     * C library would print instead.
     */
    public static String reason(Throwable cause) {
        if (cause instanceof java.nio.file.FileSystemException fse) {
            if (fse.getReason() != null) {
                return fse.getReason();
            }
            if (fse instanceof java.nio.file.NoSuchFileException) {
                return "No such file or directory";
            }
            if (fse instanceof java.nio.file.AccessDeniedException) {
                return "Permission denied";
            }
            if (fse instanceof java.nio.file.NotDirectoryException) {
                return "Not a directory";
            }
            if (fse instanceof java.nio.file.FileAlreadyExistsException) {
                return "File exists";
            }
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }
}
