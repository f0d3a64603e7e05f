package io.qsnapfs.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a command writes: standard output (bytes, so that snapshot names go out exactly as stored),
 * standard error, and which of the two is a terminal (a raw disk is never written to one; progress
 * bars go to standard error only when a person watches it).
 *
 * @param out         the command's results
 * @param err         error messages and progress
 * @param outTerminal true when standard output is a terminal
 * @param errTerminal true when standard error is a terminal
 */
public record Streams(PrintStream out, PrintStream err, boolean outTerminal, boolean errTerminal) {
    /** Both streams on a terminal, or neither. */
    public Streams(PrintStream out, PrintStream err, boolean terminal) {
        this(out, err, terminal, terminal);
    }

    /**
     * Whether this process's descriptor {@code fd} is a terminal: a pseudo-terminal, a virtual
     * console or a serial line, as {@code /proc/self/fd} shows it (what isatty(3) asks the kernel,
     * without binding libc for it at start-up).
     */
    static boolean isTerminal(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
