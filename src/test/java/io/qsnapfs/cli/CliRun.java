package io.qsnapfs.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * One in-process run of the command line with captured output.
 *
 * @param status the exit status {@link Main#run} returned
 * @param out    standard output, as bytes
 * @param err    standard error, as text
 */
record CliRun(int status, byte[] out, String err) {
    /** Runs {@code qsnapfs ARGS...} in this JVM, as a non-interactive session. */
    static CliRun of(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = Main.run(o, e, args);
        }
        return new CliRun(status, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
    }

    String outText() {
        return new String(out, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "exit " + status + "\n--- stdout\n" + outText() + "--- stderr\n" + err;
    }
}
