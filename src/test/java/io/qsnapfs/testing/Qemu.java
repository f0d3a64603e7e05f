package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs QEMU's own tools, the reference every test compares with: {@code qemu-img} and
 * {@code qemu-io} to make and change images, their reports parsed ({@code check}, {@code snapshot
 * -l}, {@code info}), and {@code qemu-img convert} to get a snapshot's or the active layer's raw
 * bytes. Commands that change an image run with flushes turned off ({@link #noFlush}): the file
 * comes out the same, without the fsyncs that make each command take tens of milliseconds on a
 * loaded disk. A missing tool fails the test with the hint to run {@code make setup}; tests never
 * skip. The assertions built on these answers are {@link Oracle}'s.
 */
public final class Qemu {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Qemu() {
    }

    // ---- running the tools ------------------------------------------------------------------

    /**
     * Runs a QEMU tool (or {@code sh} around one) and returns what it did, whatever its exit
     * status; fails the test only if it cannot be started or hangs.
     */
    public static Processes.Output run(List<String> command) {
        return Processes.run(command, Map.of(), null);
    }

    /** Like {@link #run} with {@code dir} as the working directory. */
    public static Processes.Output runIn(Path dir, List<String> command) {
        return Processes.run(command, Map.of(), dir.toFile());
    }

    /**
     * Runs a command with {@code dir} as its working directory; it must succeed and print no error
     * line. Returns its standard output.
     */
    public static String okIn(Path dir, String... command) {
        Processes.Output r = runIn(dir, List.of(command));
        String all = r.stdout() + r.stderr();
        if (r.exitCode() != 0 || all.contains("failed") || all.contains("rror")) {
            fail(String.join(" ", command) + " in " + dir + " exited " + r.exitCode() + ":\n" + all);
        }
        return r.stdout();
    }

    /** {@code qemu-img ARGS...}, which must succeed; returns its standard output. */
    public static String img(String... args) {
        String[] command = new String[args.length + 1];
        command[0] = "qemu-img";
        System.arraycopy(args, 0, command, 1, args.length);
        return Processes.ok(command);
    }

    /**
     * Runs {@code qemu-img ARGS...} through {@code sh}, with every argument of the form
     * {@code @FILE} replaced by the exact bytes of FILE. This passes names (UTF-8, spaces, long) to
     * QEMU byte for byte, whatever locale the JVM encodes command lines in.
     */
    public static Processes.Output imgWithFileArgs(String... args) {
        StringBuilder script = new StringBuilder("exec qemu-img");
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", ""));
        cmd.add("sh");
        int n = 0;
        for (String a : args) {
            n++;
            if (a.startsWith("@")) {
                script.append(" \"$(cat \"${").append(n).append("}\")\"");
                cmd.add(a.substring(1));
            } else {
                script.append(" \"${").append(n).append("}\"");
                cmd.add(a);
            }
        }
        cmd.set(2, script.toString());
        Processes.Output r = run(cmd);
        if (r.exitCode() == 127) { // sh found no qemu-img
            fail("cannot run " + String.join(" ", cmd) + " (" + r.stderr().trim() + "); run make setup");
        }
        return r;
    }

    /**
     * {@code --image-opts} for a qcow2 image whose flushes are no-ops: the file comes out the same,
     * without the fsyncs that make each QEMU command take tens of milliseconds on a real disk.
     */
    public static String noFlush(Path image) {
        return "driver=qcow2,file.driver=file,file.filename=" + image.toString().replace(",", ",,")
                + ",cache.no-flush=on";
    }

    /**
     * {@code qemu-io -c CMD -c CMD ... --image-opts IMAGE-WITHOUT-FLUSHES}, which must succeed.
     * qemu-io exits 0 even when a command fails, so its output is checked for error lines too.
     */
    public static String io(Path image, String... commands) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add("--image-opts");
        cmd.add(noFlush(image));
        Processes.Output r = run(cmd);
        String all = r.stdout() + r.stderr();
        if (r.exitCode() != 0 || all.contains("failed") || all.contains("error") || all.contains("Error")) {
            fail("qemu-io " + String.join(" ", commands) + " on " + image + " failed:\n" + all);
        }
        return r.stdout();
    }

    // ---- making and changing images ---------------------------------------------------------

    /** Creates a qcow2 image: {@code qemu-img create -f qcow2 [-o OPTIONS] PATH SIZE}. */
    public static Path create(Path path, String size, String options) {
        if (options == null || options.isEmpty()) {
            img("create", "-q", "-f", "qcow2", path.toString(), size);
        } else {
            img("create", "-q", "-f", "qcow2", "-o", options, path.toString(), size);
        }
        return path;
    }

    /** {@code qemu-img snapshot -c NAME} on the image without flushes, which must succeed. */
    public static void snapshot(Path image, String name) {
        Processes.Output r = trySnapshot(image, name);
        if (r.exitCode() != 0) {
            fail("qemu-img snapshot -c " + name + " " + image + " exited " + r.exitCode() + ":\n" + r.stderr());
        }
    }

    /** Like {@link #snapshot} but returns the result instead of failing. */
    public static Processes.Output trySnapshot(Path image, String name) {
        return run(List.of("qemu-img", "snapshot", "-c", name, "--image-opts", noFlush(image)));
    }

    /** {@code qemu-img snapshot -d ID-OR-NAME} on the image without flushes, which must succeed. */
    public static void deleteSnapshot(Path image, String idOrName) {
        img("snapshot", "-d", idOrName, "--image-opts", noFlush(image));
    }

    /** {@code qemu-img snapshot -a ID-OR-NAME} on the image without flushes, which must succeed. */
    public static void applySnapshot(Path image, String idOrName) {
        img("snapshot", "-a", idOrName, "--image-opts", noFlush(image));
    }

    /**
     * {@code qemu-img resize -q --shrink} on the image without flushes, which must succeed: sets
     * the virtual size, larger or smaller.
     */
    public static void resize(Path image, String size) {
        img("resize", "-q", "--shrink", "--image-opts", noFlush(image), size);
    }

    // ---- what the tools report --------------------------------------------------------------

    /** {@code qemu-img check} in numbers, plus the report for failure messages. */
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

    /** A snapshot's ID and name (tag). */
    public record Listed(String id, String name) {
        @Override
        public String toString() {
            return id + ":" + name;
        }
    }

    /** Runs {@code qemu-img check --output=json}. */
    public static Check check(Path image) {
        Processes.Output r = run(List.of("qemu-img", "check", "--output=json", image.toString()));
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
        Processes.Output r = run(List.of("qemu-img", "check", image.toString()));
        return "qemu-img check " + image.getFileName() + " (exit " + r.exitCode() + "):\n" + r.stdout() + r.stderr();
    }

    /**
     * The ID and name of each snapshot in table order, as {@code qemu-img info --output=json}
     * reports them (names may hold any character); it must succeed.
     */
    public static List<Listed> snapshots(Path image) {
        return listed(info(image));
    }

    /**
     * Like {@link #snapshots}, of an image a running QEMU holds: {@code qemu-img info -U} (shared,
     * taking no locks) sees what QEMU has written out, which a snapshot command always has.
     */
    public static List<Listed> snapshotsWhileHeld(Path image) {
        return listed(info("-U", image));
    }

    private static List<Listed> listed(JsonNode info) {
        List<Listed> out = new ArrayList<>();
        for (JsonNode s : info.path("snapshots")) {
            out.add(new Listed(s.path("id").asText(), s.path("name").asText()));
        }
        return out;
    }

    /**
     * The VM state size of each snapshot by ID, in table order, as {@code qemu-img info
     * --output=json} reports it ({@code vm-state-size}; 0 for a disk-only snapshot); it must
     * succeed.
     */
    public static Map<String, Long> vmStateSizes(Path image) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (JsonNode s : info(image).path("snapshots")) {
            out.put(s.path("id").asText(), s.path("vm-state-size").asLong(-1));
        }
        return out;
    }

    /**
     * Each snapshot as {@code qemu-img info --output=json} reports it, in table order: {@code id},
     * {@code name}, {@code vm-state-size}, {@code date-sec}, {@code date-nsec}, {@code vm-clock-sec},
     * {@code vm-clock-nsec} and {@code icount} (only when known).
     */
    public static List<JsonNode> snapshotInfo(Path image) {
        List<JsonNode> out = new ArrayList<>();
        info(image).path("snapshots").forEach(out::add);
        return out;
    }

    /** The names of the snapshots in table order (see {@link #snapshots}). */
    public static List<String> snapshotNames(Path image) {
        return snapshots(image).stream().map(Listed::name).toList();
    }

    /** The bytes {@code qemu-img snapshot -l IMAGE} prints in time zone {@code tz}; it must succeed. */
    public static byte[] snapshotList(Path image, String tz) {
        Processes.Output o = Processes.run(List.of("qemu-img", "snapshot", "-l", image.toString()), Map.of("TZ", tz),
                null);
        if (o.exitCode() != 0) {
            fail("qemu-img snapshot -l " + image + " exited " + o.exitCode() + ": " + o.stderr());
        }
        return o.stdoutBytes();
    }

    /**
     * One extent of {@code qemu-img map --output=json}: where QEMU finds a guest range. An image
     * holds the range itself (data or a zero cluster) when {@code depth} is 0 and {@code present}
     * is true; depth 1 is its backing file.
     */
    public record Mapped(long start, long length, int depth, boolean present, boolean zero, boolean data) {
        /** True when the image itself, not a backing file, says what the range reads. */
        public boolean inTopImage() {
            return depth == 0 && present;
        }
    }

    /** {@code qemu-img map --output=json IMAGE}, which must succeed, in guest order. */
    public static List<Mapped> map(Path image) {
        String out = img("map", "--output=json", image.toString());
        List<Mapped> list = new ArrayList<>();
        try {
            for (JsonNode n : JSON.readTree(out)) {
                list.add(new Mapped(n.path("start").asLong(), n.path("length").asLong(), n.path("depth").asInt(),
                        n.path("present").asBoolean(), n.path("zero").asBoolean(), n.path("data").asBoolean()));
            }
        } catch (IOException e) {
            fail("qemu-img map printed no JSON: " + out);
        }
        return list;
    }

    /** The virtual size {@code qemu-img info --output=json} reports. */
    public static long virtualSize(Path image) {
        return info(image).path("virtual-size").asLong(-1);
    }

    /** {@code qemu-img info --output=json}, which must succeed, parsed. */
    private static JsonNode info(Path image) {
        return info(null, image);
    }

    /** {@code qemu-img info [FLAG] --output=json}, which must succeed, parsed. */
    private static JsonNode info(String flag, Path image) {
        String out = flag == null ? img("info", "--output=json", image.toString())
                : img("info", flag, "--output=json", image.toString());
        try {
            return JSON.readTree(out);
        } catch (IOException e) {
            fail("qemu-img info printed no JSON: " + out);
            return null;
        }
    }

    // ---- raw bytes of a snapshot or the active layer ----------------------------------------

    /**
     * Converts a snapshot ({@code id} non-null, {@code -l snapshot.id=ID}) or the active layer to
     * a sparse raw file with {@code qemu-img convert -t unsafe -O raw} and returns its path, for
     * disks too large to hold in an array.
     */
    public static Path convertToFile(Path image, String id, Path out) {
        List<String> cmd = new ArrayList<>(List.of("convert", "-t", "unsafe"));
        if (id != null) {
            cmd.addAll(List.of("-l", "snapshot.id=" + id));
        }
        cmd.addAll(List.of("-O", "raw", image.toString(), out.toString()));
        img(cmd.toArray(new String[0]));
        return out;
    }

    /**
     * A snapshot's bytes by ID, as {@code qemu-img convert -l snapshot.id=ID} reads them: at the
     * image's current virtual size.
     */
    public static byte[] snapshotBytes(Path image, String id, Path scratch) {
        return convert(image, id, scratch);
    }

    /** The active layer's bytes, as {@code qemu-img convert} reads them. */
    public static byte[] activeBytes(Path image, Path scratch) {
        return convert(image, null, scratch);
    }

    /**
     * A snapshot's bytes at its own disk size, as QEMU reads them. {@code qemu-img convert -l}
     * reads a snapshot at the image's current size (QEMU 7.2's load_tmp keeps the active size), so
     * a snapshot of another size is read by reverting a copy of the image (next to it, so a
     * relative backing file name still resolves) with {@code qemu-img snapshot -a}, which sets the
     * size to the snapshot's, and converting the copy.
     */
    public static byte[] snapshotBytesAtOwnSize(Path image, String id, long snapshotSize, long imageSize,
            Path scratch) {
        if (snapshotSize == imageSize) {
            return snapshotBytes(image, id, scratch);
        }
        Path copy = image.resolveSibling("reverted-" + image.getFileName());
        try {
            Files.copy(image, copy, StandardCopyOption.REPLACE_EXISTING);
            applySnapshot(copy, id);
            return activeBytes(copy, scratch);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteQuietly(copy);
        }
    }

    /**
     * The VM state of snapshot {@code id}, {@code size} bytes, as QEMU reads it: a copy of the
     * image (next to it) reverted to the snapshot with {@code qemu-img snapshot -a}, whose VM state
     * area {@code qemu-io -c "read -b -v"} dumps (a whole number of sectors, cut to {@code size}).
     */
    public static byte[] vmStateBytes(Path image, String id, long size) {
        Path copy = image.resolveSibling("vmstate-" + image.getFileName());
        try {
            Files.copy(image, copy, StandardCopyOption.REPLACE_EXISTING);
            applySnapshot(copy, id);
            long sectors = (size + 511) / 512 * 512;
            Processes.Output r = run(List.of("qemu-io", "-c", "read -b -v 0 " + sectors, "--image-opts",
                    noFlush(copy)));
            if (r.exitCode() != 0 || !r.stdout().contains("read " + sectors + "/" + sectors + " bytes")) {
                fail("qemu-io read -b of " + image + " snapshot " + id + " failed:\n" + r.stdout() + r.stderr());
            }
            byte[] out = new byte[(int) size];
            long lines = 0;
            for (String line : r.stdout().split("\n")) {
                // 00000010:  69 34 34 30 66 78 2d 37 2e 32 01 00 00 00 02 03  i440fx.7.2......
                int colon = line.indexOf(":  ");
                if (colon != 8) {
                    continue;
                }
                long at = Long.parseLong(line.substring(0, 8), 16);
                lines++;
                for (int i = 0; i < 16 && at + i < size; i++) {
                    out[(int) at + i] = (byte) Integer.parseInt(line.substring(colon + 3 + 3 * i, colon + 5 + 3 * i), 16);
                }
            }
            if (lines != sectors / 16) {
                fail("qemu-io read -b -v of " + image + " snapshot " + id + " dumped " + lines + " lines of 16 bytes"
                        + " for " + sectors + " bytes");
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteQuietly(copy);
        }
    }

    private static byte[] convert(Path image, String id, Path scratch) {
        Path out = scratch.resolve("oracle-" + System.nanoTime() + ".raw");
        try {
            return Bytes.readFile(convertToFile(image, id, out));
        } finally {
            deleteQuietly(out);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // scratch files live in a JUnit temp dir that is removed anyway
        }
    }
}
