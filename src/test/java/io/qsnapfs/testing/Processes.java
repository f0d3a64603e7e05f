package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program to its end, optionally with extra environment variables (TZ above all) and a
 * working directory, and keeps its standard output as bytes, so output can be compared byte for
 * byte. The one place tests start a program that runs to completion ({@link Qemu} runs QEMU's
 * tools through it). A program that cannot be started fails the test with the hint to run
 * {@code make setup}; tests never skip.
 */
public final class Processes {
    /** How long a program may run before it is killed and the test fails. */
    private static final int TIME_LIMIT_SECONDS = 300;

    private Processes() {
    }

    /** What a finished program wrote and returned. */
    public record Output(int exitCode, byte[] stdoutBytes, String stderr) {
        /** Standard output as UTF-8 text. */
        public String stdout() {
            return new String(stdoutBytes, StandardCharsets.UTF_8);
        }
    }

    /**
     * Runs {@code command} with {@code env} added to the environment ({@code LC_ALL=C} unless
     * {@code env} says otherwise) in {@code workingDirectory} (null: the current one).
     */
    public static Output run(List<String> command, Map<String, String> env, File workingDirectory) {
        return run(command, env, workingDirectory, TIME_LIMIT_SECONDS, String.join(" ", command));
    }

    /**
     * Like {@link #run(List, Map, File)}, killing the program and failing the test (naming the
     * program {@code what}) when it runs longer than {@code seconds}.
     */
    public static Output run(List<String> command, Map<String, String> env, File workingDirectory, int seconds,
            String what) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("LC_ALL", "C");
        pb.environment().putAll(env);
        if (workingDirectory != null) {
            pb.directory(workingDirectory);
        }
        try {
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                fail("cannot run " + command.get(0) + " (" + e.getMessage() + "); run make setup");
                return null;
            }
            p.getOutputStream().close();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread errReader = new Thread(() -> copy(p.getErrorStream(), err));
            errReader.start();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Thread outReader = new Thread(() -> copy(p.getInputStream(), out));
            outReader.start();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                outReader.join();
                errReader.join();
                fail(what + " did not finish in " + seconds + " s (killed); output:\n"
                        + out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8));
            }
            outReader.join();
            errReader.join();
            return new Output(p.exitValue(), out.toByteArray(), err.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs a command that must succeed (exit 0); returns its standard output. */
    public static String ok(String... command) {
        Output r = run(Arrays.asList(command), Map.of(), null);
        if (r.exitCode() != 0) {
            fail(String.join(" ", command) + " exited " + r.exitCode() + ":\n" + r.stdout() + r.stderr());
        }
        return r.stdout();
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
