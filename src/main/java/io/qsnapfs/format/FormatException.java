package io.qsnapfs.format;

/**
 * A structure read from disk breaks the qcow2 specification or one of our safety limits. The
 * message says which field and why, but not which image: the format layer does no I/O and does
 * not know file names, so the engine prefixes the image name when it turns this into an
 * {@code ImageException}.
 */
public final class FormatException extends Exception {
    private static final long serialVersionUID = 1L;

    /** True when the structure is valid but uses a feature we do not implement. */
    private final boolean unsupported;

    private FormatException(String message, boolean unsupported) {
        super(message);
        this.unsupported = unsupported;
    }

    public static FormatException invalid(String message) {
        return new FormatException(message, false);
    }

    public static FormatException unsupported(String message) {
        return new FormatException(message, true);
    }

    public boolean isUnsupported() {
        return unsupported;
    }
}
