package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What QEMU's tools say about an image, parsed: {@code qemu-img check --output=json}, the
 * ID/name pairs of {@code qemu-img snapshot -l}, and the virtual size from {@code qemu-img info}.
 */
public final class QemuState {
    private static final ObjectMapper JSON = new ObjectMapper();

    private QemuState() {
    }

    /** {@code qemu-img check} in numbers, plus the human report for failure messages. */
    public record Check(int exitCode, long corruptions, long leaks, long checkErrors, String json) {
        /** No errors and no leaks. */
        public boolean clean() {
            return exitCode == 0 && corruptions == 0 && leaks == 0 && checkErrors == 0;
        }

        /** No corruption and no check error; leaked clusters allowed. */
        public boolean noCorruption() {
            return (exitCode == 0 || exitCode == 3) && corruptions == 0 && checkErrors == 0;
        }

        @Override
        public String toString() {
            return "qemu-img check exit " + exitCode + ", corruptions " + corruptions + ", leaks " + leaks
                    + ", check-errors " + checkErrors;
        }
    }

    /** One row of {@code qemu-img snapshot -l}: ID and tag. */
    public record Listed(String id, String name) {
        @Override
        public String toString() {
            return id + ":" + name;
        }
    }

    /** Runs {@code qemu-img check --output=json}. */
    public static Check check(Path image) {
        Qemu.Result r = Qemu.run(List.of("qemu-img", "check", "--output=json", image.toString()));
        if (r.stdout().isBlank()) {
            return new Check(r.exitCode(), -1, -1, -1, r.stderr());
        }
        try {
            JsonNode n = JSON.readTree(r.stdout());
            return new Check(r.exitCode(), n.path("corruptions").asLong(0), n.path("leaks").asLong(0),
                    n.path("check-errors").asLong(0), r.stdout() + r.stderr());
        } catch (IOException e) {
            fail("qemu-img check printed no JSON: " + r.stdout() + r.stderr());
            return null;
        }
    }

    /** The human {@code qemu-img check} report (both streams), for failure messages. */
    public static String checkText(Path image) {
        Qemu.Result r = Qemu.run(List.of("qemu-img", "check", image.toString()));
        return "qemu-img check " + image.getFileName() + " (exit " + r.exitCode() + "):\n" + r.stdout() + r.stderr();
    }

    /**
     * {@code qemu-img snapshot -l}, which must succeed: the ID and tag of each row in table order.
     * Tags must not contain spaces (the tests choose them).
     */
    public static List<Listed> snapshots(Path image) {
        Qemu.Result r = Qemu.run(List.of("qemu-img", "snapshot", "-l", image.toString()));
        if (r.exitCode() != 0) {
            fail("qemu-img snapshot -l " + image + " exited " + r.exitCode() + ": " + r.stderr());
        }
        List<Listed> out = new ArrayList<>();
        String[] lines = r.stdout().split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.isBlank() || line.startsWith("Snapshot list:") || line.startsWith("ID ")) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            out.add(new Listed(f[0], f[1]));
        }
        return out;
    }

    /**
     * {@code --image-opts} for a qcow2 image whose flushes are no-ops: the file comes out the same,
     * without the fsyncs that make each QEMU command take tens of milliseconds on a real disk.
     */
    public static String noFlush(Path image) {
        return "driver=qcow2,file.driver=file,file.filename=" + image.toString().replace(",", ",,")
                + ",cache.no-flush=on";
    }

    /** {@code qemu-io -c CMD ...} on the image without flushes; fails on any error line, like {@link Qemu#io}. */
    public static String io(Path image, String... commands) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add("--image-opts");
        cmd.add(noFlush(image));
        Qemu.Result r = Qemu.run(cmd);
        String all = r.stdout() + r.stderr();
        if (r.exitCode() != 0 || all.contains("failed") || all.contains("error") || all.contains("Error")) {
            fail("qemu-io " + String.join(" ", commands) + " on " + image + " failed:\n" + all);
        }
        return r.stdout();
    }

    /**
     * {@code qemu-img SUBCOMMAND ARGS... --image-opts IMAGE-WITHOUT-FLUSHES [TRAILING]}, which must
     * succeed: for {@code snapshot} (TRAILING empty) and {@code resize} (TRAILING the size).
     */
    public static String img(String subcommand, List<String> args, Path image, String... trailing) {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", subcommand));
        cmd.addAll(args);
        cmd.add("--image-opts");
        cmd.add(noFlush(image));
        cmd.addAll(List.of(trailing));
        return Qemu.ok(cmd.toArray(new String[0]));
    }

    /**
     * A snapshot's bytes at its own disk size, as QEMU reads them. {@code qemu-img convert -l}
     * reads a snapshot at the image's current size (QEMU 7.2's load_tmp keeps the active size), so
     * a snapshot of another size is read by reverting a copy of the image (next to it, so a
     * relative backing file name still resolves) with {@code qemu-img snapshot -a}, which sets the
     * size to the snapshot's, and converting the copy.
     */
    public static byte[] snapshotBytes(Path image, String id, long snapshotSize, long imageSize, Path scratch) {
        if (snapshotSize == imageSize) {
            return Oracle.snapshotBytes(image, id, scratch);
        }
        Path copy = image.resolveSibling("reverted-" + image.getFileName());
        try {
            Files.copy(image, copy, StandardCopyOption.REPLACE_EXISTING);
            img("snapshot", List.of("-a", id), copy);
            return Oracle.activeBytes(copy, scratch);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                Files.deleteIfExists(copy);
            } catch (IOException ignored) {
                // a temp dir
            }
        }
    }

    /** The virtual size {@code qemu-img info --output=json} reports. */
    public static long virtualSize(Path image) {
        String out = Qemu.img("info", "--output=json", image.toString());
        try {
            return JSON.readTree(out).path("virtual-size").asLong(-1);
        } catch (IOException e) {
            fail("qemu-img info printed no JSON: " + out);
            return -1;
        }
    }
}
