package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.ImageHolder;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs snapshot create|delete|apply}, judged by QEMU: {@code qemu-img snapshot -l} and
 * {@code info} see the result, {@code qemu-img check} finds it clean, {@code qemu-img convert} reads
 * the expected bytes; and while a QEMU tool holds the image, every one of them is refused and the
 * file stays the same byte for byte.
 */
class SnapshotWriteCommandTest {
    @TempDir
    Path dir;

    /** A 32 MiB image with data in a few places. */
    private Path image(String name) {
        Path img = Qemu.create(dir.resolve(name), "32M", "");
        Qemu.io(img, "write -P 0x11 0 4M", "write -P 0x22 10M 1M", "write -z 12M 64k", "write -c -P 0x33 20M 64k");
        return img;
    }

    /** The image's snapshots as QEMU sees them: ID to name, in table order. */
    private static Map<String, String> snapshots(Path image) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Qemu.Listed s : Qemu.snapshots(image)) {
            out.put(s.id(), s.name());
        }
        return out;
    }

    private static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void assertSilentSuccess(CliRun r) {
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.outText(), r.toString());
        assertEquals("", r.err(), r.toString());
    }

    /** Exit 1 and one line on standard error that names the image; returns the line. */
    private static String assertOneLineFailure(CliRun r, Path image) {
        assertEquals(1, r.status(), r.toString());
        assertEquals(0, r.out().length, r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertTrue(r.err().startsWith("qsnapfs: " + image.getFileName() + ": "), r.toString());
        return r.err().strip();
    }

    @Test
    void createIsSilentAndQemuSeesACleanSnapshotOfTheActiveLayer() {
        Path img = image("web01.qcow2");
        byte[] active = Qemu.activeBytes(img, dir);
        assertSilentSuccess(CliRun.of("snapshot", "create", img.toString(), "nightly"));
        assertEquals(Map.of("1", "nightly"), snapshots(img));
        assertTrue(Qemu.img("snapshot", "-l", img.toString()).contains("nightly"));
        Oracle.assertClean(img);
        assertArrayEquals(active, Qemu.snapshotBytes(img, "1", dir));

        // Writing after the snapshot leaves it alone; the next one gets the next ID.
        Qemu.io(img, "write -P 0x44 0 1M", "write -P 0x55 30M 2M");
        byte[] later = Qemu.activeBytes(img, dir);
        assertSilentSuccess(CliRun.of("snapshot", "create", img.toString(), "second one"));
        assertEquals(Map.of("1", "nightly", "2", "second one"), snapshots(img));
        Oracle.assertClean(img);
        assertArrayEquals(active, Qemu.snapshotBytes(img, "1", dir));
        assertArrayEquals(later, Qemu.snapshotBytes(img, "2", dir));
    }

    @Test
    void deleteByIdAndByName() {
        Path img = image("web01.qcow2");
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 0x66 0 2M");
        Qemu.snapshot(img, "b");
        Qemu.io(img, "write -P 0x77 1M 2M");
        Qemu.snapshot(img, "c");
        byte[] first = Qemu.snapshotBytes(img, "1", dir);

        assertSilentSuccess(CliRun.of("snapshot", "delete", img.toString(), "2"));
        assertEquals(Map.of("1", "a", "3", "c"), snapshots(img));
        Oracle.assertClean(img);

        assertSilentSuccess(CliRun.of("snapshot", "delete", img.toString(), "c"));
        assertEquals(Map.of("1", "a"), snapshots(img));
        Oracle.assertClean(img);
        assertArrayEquals(first, Qemu.snapshotBytes(img, "1", dir));
    }

    /**
     * An argument that is both an ID and another snapshot's name means the ID, for apply and delete
     * alike. That is qemu-img snapshot -a's rule (checked here on a copy); qemu-img 7.2's -d looks up
     * names only ({@code bdrv_snapshot_find}), so it would delete the other one, and refuses an ID.
     */
    @Test
    void anIdWinsOverAnEqualNameLikeQemuImgApply() throws IOException {
        Path img = image("web01.qcow2");
        Qemu.snapshot(img, "x");
        Qemu.io(img, "write -P 0xcc 0 1M");
        Qemu.snapshot(img, "1");
        Qemu.io(img, "write -P 0xdd 0 1M");
        Path copy = Files.copy(img, dir.resolve("copy.qcow2"));
        Qemu.applySnapshot(copy, "1");
        assertSilentSuccess(CliRun.of("snapshot", "apply", img.toString(), "1"));
        assertArrayEquals(Qemu.activeBytes(copy, dir), Qemu.activeBytes(img, dir));
        assertArrayEquals(Qemu.snapshotBytes(img, "1", dir), Qemu.activeBytes(img, dir));

        assertSilentSuccess(CliRun.of("snapshot", "delete", img.toString(), "1"));
        assertEquals(Map.of("2", "1"), snapshots(img));
        Oracle.assertClean(img);
    }

    @Test
    void applyRevertsTheActiveLayerToTheSnapshotByNameOrId() {
        Path img = image("web01.qcow2");
        Qemu.snapshot(img, "base");
        Qemu.io(img, "write -P 0x88 2M 8M", "write -z 10M 1M", "discard 20M 64k");
        assertSilentSuccess(CliRun.of("snapshot", "apply", img.toString(), "base"));
        assertArrayEquals(Qemu.snapshotBytes(img, "1", dir), Qemu.activeBytes(img, dir));
        assertEquals(Map.of("1", "base"), snapshots(img), "apply keeps the snapshot");
        Oracle.assertClean(img);

        Qemu.io(img, "write -P 0x99 0 16M");
        assertSilentSuccess(CliRun.of("snapshot", "apply", img.toString(), "1"));
        assertArrayEquals(Qemu.snapshotBytes(img, "1", dir), Qemu.activeBytes(img, dir));
        Oracle.assertClean(img);
    }

    @Test
    void applyAfterAResizeDoesWhatQemuDoes() throws IOException {
        Path img = image("web01.qcow2");
        Qemu.snapshot(img, "small");
        Qemu.resize(img, "48M");
        Qemu.io(img, "write -P 0xaa 40M 4M", "write -P 0xbb 0 1M");
        Path copy = Files.copy(img, dir.resolve("copy.qcow2"), StandardCopyOption.COPY_ATTRIBUTES);
        Qemu.applySnapshot(copy, "small");
        assertSilentSuccess(CliRun.of("snapshot", "apply", img.toString(), "small"));
        assertEquals(Qemu.virtualSize(copy), Qemu.virtualSize(img), "the size qemu-img snapshot -a leaves");
        assertArrayEquals(Qemu.activeBytes(copy, dir), Qemu.activeBytes(img, dir));
        Oracle.assertClean(img);
    }

    @Test
    void missingImageIsOneLineAndCreatesNothing() {
        Path missing = dir.resolve("web01.qcow2");
        for (String[] args : new String[][] {{"create", missing.toString(), "x"}, {"delete", missing.toString(), "1"},
            {"apply", missing.toString(), "1"}}) {
            CliRun r = CliRun.of(prepend("snapshot", args));
            String line = assertOneLineFailure(r, missing);
            assertTrue(line.contains("No such file or directory"), line);
            assertTrue(Files.notExists(missing), "nothing is created");
        }
    }

    @Test
    void unknownSnapshotIsOneLineAndChangesNothing() {
        Path img = image("web01.qcow2");
        Qemu.snapshot(img, "nightly");
        String before = sha256(img);
        for (String op : new String[] {"delete", "apply"}) {
            for (String which : new String[] {"weekly", "7"}) {
                String line = assertOneLineFailure(CliRun.of("snapshot", op, img.toString(), which), img);
                assertTrue(line.contains("'" + which + "'") || line.contains(" " + which), line);
                assertEquals(before, sha256(img), op + " " + which + " changed the image");
            }
        }
    }

    @Test
    void createRefusesANameThatIsTaken() {
        Path img = image("web01.qcow2");
        assertSilentSuccess(CliRun.of("snapshot", "create", img.toString(), "nightly"));
        String before = sha256(img);
        String line = assertOneLineFailure(CliRun.of("snapshot", "create", img.toString(), "nightly"), img);
        assertTrue(line.contains("nightly"), line);
        assertEquals(before, sha256(img));
        assertEquals(Map.of("1", "nightly"), snapshots(img));
    }

    @Test
    void missingArgumentsAreUsageErrors() {
        Path img = image("web01.qcow2");
        String before = sha256(img);
        for (String[] args : new String[][] {{"create"}, {"create", img.toString()}, {"delete", img.toString()},
            {"apply", img.toString()}, {"delete"}, {"apply", img.toString(), "1", "2"}}) {
            CliRun r = CliRun.of(prepend("snapshot", args));
            assertEquals(2, r.status(), String.join(" ", args) + "\n" + r);
            assertTrue(r.err().contains("Usage: qsnapfs snapshot"), r.toString());
        }
        assertEquals(before, sha256(img));
    }

    /**
     * The case: a running QEMU has the image open. qemu-img itself refuses to write then;
     * so must we, with QEMU's reason, leaving every byte of the file as it was.
     */
    @Test
    void everyWriteIsRefusedWhileQemuHoldsTheImage() {
        Path img = image("web01.qcow2");
        Qemu.snapshot(img, "base");
        Map<String, String> snapshots = snapshots(img);
        String before = sha256(img);
        List<Function<Path, ImageHolder>> holders = List.of(ImageHolder::qemuIo, ImageHolder::qemuIoReadOnly,
            p -> ImageHolder.qemuNbd(p, dir.resolve("nbd.sock")));
        for (Function<Path, ImageHolder> start : holders) {
            try (ImageHolder holder = start.apply(img)) {
                for (String[] args : new String[][] {{"create", img.toString(), "x"}, {"delete", img.toString(), "base"},
                    {"delete", img.toString(), "1"}, {"apply", img.toString(), "base"}}) {
                    CliRun r = CliRun.of(prepend("snapshot", args));
                    String line = assertOneLineFailure(r, img);
                    assertTrue(line.contains("Failed to get \"write\" lock"), holder + ": " + line);
                    assertTrue(line.contains("another process"), holder + ": " + line);
                    assertEquals(before, sha256(img), holder + ": snapshot " + String.join(" ", args) + " wrote the image");
                }
            }
            assertEquals(before, sha256(img));
            assertEquals(snapshots, snapshots(img));
        }
        assertSilentSuccess(CliRun.of("snapshot", "create", img.toString(), "x"));
        assertEquals(Map.of("1", "base", "2", "x"), snapshots(img));
        Oracle.assertClean(img);
    }

    private static String[] prepend(String first, String[] rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
