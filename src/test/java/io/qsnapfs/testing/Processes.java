package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program with extra environment variables (TZ above all) and keeps its standard output
 * as bytes, so output can be compared byte for byte. A program that cannot be started fails the
 * test with the hint to run {@code make setup}; tests never skip.
 */
public final class Processes {
    private Processes() {
    }

    /** What a finished program wrote and returned. */
    public record Output(int status, byte[] out, String err) {
        public String outText() {
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    public static Output run(List<String> command, Map<String, String> env, File workingDirectory) {
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
            copy(p.getInputStream(), out);
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", command) + " did not finish in 300 s");
            }
            errReader.join();
            return new Output(p.exitValue(), out.toByteArray(), err.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** {@code qemu-img snapshot -l IMAGE} in time zone {@code tz}; must succeed. */
    public static byte[] qemuSnapshotList(java.nio.file.Path image, String tz) {
        Output o = run(List.of("qemu-img", "snapshot", "-l", image.toString()), Map.of("TZ", tz), null);
        if (o.status() != 0) {
            fail("qemu-img snapshot -l " + image + " exited " + o.status() + ": " + o.err());
        }
        return o.out();
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
