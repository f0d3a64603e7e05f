package io.qsnapfs.cli;

import java.io.PrintStream;

/**
 * Where a command writes: standard output (bytes, so that snapshot names go out exactly as stored),
 * standard error, and whether a person is watching a terminal (progress bars only then).
 *
 * @param out         the command's results
 * @param err         error messages and progress
 * @param interactive true when attached to a terminal
 */
public record Streams(PrintStream out, PrintStream err, boolean interactive) {
}
