package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Runs QEMU's own tools, the oracle of every test. A missing tool fails the test with the hint to
 * run {@code make setup}; tests never skip.
 */
public final class Qemu {
    private Qemu() {
    }

    /** What a finished command printed and returned. */
    public record Result(int exitCode, String stdout, String stderr) {
    }

    /** Runs a command and returns its result, failing the test if it cannot be started or hangs. */
    public static Result run(List<String> command) {
        Processes.Output o = Processes.run(command, Map.of(), null);
        return new Result(o.exitCode(), o.stdout(), o.stderr());
    }

    /** Runs a command that must succeed; returns its standard output. */
    public static String ok(String... command) {
        Result r = run(Arrays.asList(command));
        if (r.exitCode() != 0) {
            fail(String.join(" ", command) + " exited " + r.exitCode() + ":\n" + r.stdout() + r.stderr());
        }
        return r.stdout();
    }

    /** {@code qemu-img ARGS...}, which must succeed. */
    public static String img(String... args) {
        return ok(prepend("qemu-img", args));
    }

    /**
     * {@code qemu-io -f qcow2 IMAGE -c CMD -c CMD ...}, which must succeed. qemu-io exits 0 even when
     * a command fails, so its output is checked for error lines too.
     */
    public static String io(Path image, String... commands) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image.toString());
        Result r = run(cmd);
        String all = r.stdout() + r.stderr();
        if (r.exitCode() != 0 || all.contains("failed") || all.contains("error") || all.contains("Error")) {
            fail("qemu-io " + String.join(" ", commands) + " on " + image + " failed:\n" + all);
        }
        return r.stdout();
    }

    /** Creates a qcow2 image: {@code qemu-img create -f qcow2 [-o OPTIONS] PATH SIZE}. */
    public static Path create(Path path, String size, String options) {
        if (options == null || options.isEmpty()) {
            img("create", "-q", "-f", "qcow2", path.toString(), size);
        } else {
            img("create", "-q", "-f", "qcow2", "-o", options, path.toString(), size);
        }
        return path;
    }

    /** {@code qemu-img snapshot -c NAME IMAGE}. */
    public static void snapshot(Path image, String name) {
        img("snapshot", "-c", name, image.toString());
    }

    /** The raw bytes of a snapshot by ID, as {@code qemu-img convert -l snapshot.id=ID -O raw} writes them. */
    public static byte[] snapshotBytes(Path image, String id, Path scratch) {
        Path out = scratch.resolve("oracle-" + System.nanoTime() + ".raw");
        try {
            img("convert", "-l", "snapshot.id=" + id, "-O", "raw", image.toString(), out.toString());
            return Files.readAllBytes(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteQuietly(out);
        }
    }

    /** The raw bytes of the active layer, as {@code qemu-img convert -O raw} writes them. */
    public static byte[] activeBytes(Path image, Path scratch) {
        Path out = scratch.resolve("oracle-" + System.nanoTime() + ".raw");
        try {
            img("convert", "-O", "raw", image.toString(), out.toString());
            return Files.readAllBytes(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteQuietly(out);
        }
    }

    /** Asserts that {@code qemu-img check} finds no errors and no leaks. */
    public static void assertClean(Path image) {
        Result r = run(List.of("qemu-img", "check", image.toString()));
        assertEquals(0, r.exitCode(), "qemu-img check " + image + ":\n" + r.stdout() + r.stderr());
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // scratch files live in a JUnit temp dir that is removed anyway
        }
    }

    private static String[] prepend(String first, String[] rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
