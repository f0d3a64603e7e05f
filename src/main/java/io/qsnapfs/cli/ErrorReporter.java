package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/**
 * The one place where a failed command becomes what the user sees: one line on standard error,
 * {@code qsnapfs: <image or file>: <problem>}, and exit status 1. The stack trace follows only with
 * {@code --debug}. Usage errors never get here: picocli reports them with exit status 2.
 */
final class ErrorReporter implements IExecutionExceptionHandler {
    /** Exit status of a command that failed for a reason other than its usage. */
    static final int FAILURE = 1;

    private final Main main;

    ErrorReporter(Main main) {
        this.main = main;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine commandLine, ParseResult parseResult) {
        PrintStream err = main.streams().err();
        main.streams().out().flush();
        err.println("qsnapfs: " + message(ex));
        if (main.debug()) {
            ex.printStackTrace(err);
        }
        err.flush();
        return FAILURE;
    }

    /** The line to show for a failure, without the program name. */
    static String message(Throwable ex) {
        Throwable e = ex;
        if (e instanceof UncheckedIOException u && u.getCause() != null) {
            e = u.getCause();
        }
        if (e instanceof ImageException || e instanceof CliException) {
            return e.getMessage();
        }
        if (e instanceof FileSystemException fse && fse.getFile() != null) {
            return fse.getFile() + ": " + ImageException.reason(fse);
        }
        if (e instanceof IOException) {
            return ImageException.reason(e);
        }
        return "internal error: " + e + " (run with --debug for the stack trace)";
    }
}
