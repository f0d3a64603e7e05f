package io.qsnapfs.cli;

/**
 * A failure found by the command line itself (not by the engine), such as an output file that is
 * the image being read. The message names the file and says what is wrong.
 */
public final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
