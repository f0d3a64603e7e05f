package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.write.WritableImage;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one write operation ({@code create}, {@code delete} or {@code apply}) in a child JVM with a
 * time limit. An engine that loops forever then fails the test and is killed, instead of leaving
 * a thread spinning in the test JVM for the rest of the run.
 */
public final class ChildWrite {
    private ChildWrite() {
    }

    /** Runs {@code op} on {@code image} with {@code arg}; fails the test when it errs or outlasts {@code seconds}. */
    public static void run(String op, Path image, String arg, int seconds) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-cp", classpath, ChildWrite.class.getName(), op,
                image.toString(), arg));
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.PIPE);
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                fail(op + " " + arg + " on " + image.getFileName() + " did not finish in " + seconds + " s (killed)");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                fail(op + " " + arg + " on " + image.getFileName() + " exited " + p.exitValue() + ":\n" + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** {@code ChildWrite create|delete|apply IMAGE NAME}. */
    public static void main(String[] args) {
        try (WritableImage w = WritableImage.open(new File(args[1]).toPath())) {
            switch (args[0]) {
                case "create" -> w.create(args[2]);
                case "delete" -> w.delete(args[2]);
                case "apply" -> w.apply(args[2]);
                default -> throw new IllegalArgumentException(args[0]);
            }
        }
    }
}
