package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs export IMAGE --snapshot TO --since FROM --in-place OUT}: a raw copy of FROM becomes
 * exactly QEMU's bytes of TO, with only the changed ranges written.
 */
class ExportSinceTest {
    private static final int M = 1 << 20;

    @TempDir
    Path dir;

    /** QEMU's bytes of snapshot {@code id} (null: the active layer) at its own size. */
    private byte[] qemuBytes(Path image, String id, long size) {
        long imageSize = Qemu.virtualSize(image);
        return id == null ? Qemu.activeBytes(image, dir) : Qemu.snapshotBytesAtOwnSize(image, id, size, imageSize, dir);
    }

    /** A raw copy of snapshot {@code from}, made by qemu-img. */
    private Path copyOf(Path image, String fromId, String name) {
        Path out = dir.resolve(name);
        Bytes.writeFile(out, qemuBytes(image, fromId, snapshotSize(image, fromId)));
        return out;
    }

    /** A snapshot's own disk size, from our {@code info --output json} (checked against qemu-img elsewhere). */
    private static long snapshotSize(Path image, String id) {
        CliRun r = CliRun.of("info", image.toString(), "--output", "json");
        assertEquals(0, r.status(), r.toString());
        try {
            for (JsonNode s : new ObjectMapper().readTree(r.out()).get("snapshots")) {
                if (s.get("id").asText().equals(id)) {
                    return s.get("disk_size").asLong();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new AssertionError("no snapshot " + id + " in " + r);
    }

    private static CliRun update(Path image, String to, String from, Path out) {
        return to == null
                ? CliRun.of("export", image.toString(), "--since", from, "--in-place", out.toString())
                : CliRun.of("export", image.toString(), "--snapshot", to, "--since", from, "--in-place", out.toString());
    }

    private void assertUpdates(Path image, String from, String to) {
        Path out = copyOf(image, from, "copy-" + from + "-" + to + ".raw");
        CliRun r = update(image, to, from, out);
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.err());
        long toSize = to == null ? Qemu.virtualSize(image) : snapshotSize(image, to);
        Bytes.assertSameBytes(qemuBytes(image, to, toSize), Bytes.readFile(out),
                image.getFileName() + " from " + from + " to " + (to == null ? "active" : to));
    }

    @Test
    void turnsACopyOfFromIntoTo() throws Exception {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "16M", "");
        Qemu.io(img, "write -P 0xab 0 4M", "write -c -P 0x11 8M 128k", "write -P 0x12 12M 100k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -z 0 256k", "write -z -u 1M 64k", "write -P 0xcd 512k 1M", "discard 12M 64k",
                "write -c -P 0x13 9M 64k", "write -P 0x14 15M 4k");
        Qemu.snapshot(img, "two");
        Qemu.io(img, "write -P 0xee 2M 1M");
        assertUpdates(img, "1", "2");
        assertUpdates(img, "2", "1"); // a diff is symmetric in its ranges
        assertUpdates(img, "1", null);
        assertUpdates(img, "2", null);
    }

    @Test
    void writesOnlyTheChangedRangesAndPunchesZeros() throws Exception {
        Path img = Qemu.create(dir.resolve("b.qcow2"), "16M", "");
        Qemu.io(img, "write -P 0x21 0 8M");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -z 0 4M", "write -P 0x22 6M 64k");
        Path out = copyOf(img, "1", "only.raw");
        // a marker in a range that did not change: an update that rewrote more would erase it
        byte[] marker = Bytes.noise(4096, 7);
        byte[] bytes = Bytes.readFile(out);
        System.arraycopy(marker, 0, bytes, 5 * M, marker.length);
        Bytes.writeFile(out, bytes);
        long blocksBefore = blocks(out);
        CliRun r = update(img, null, "1", out);
        assertEquals(0, r.status(), r.toString());
        byte[] after = Bytes.readFile(out);
        byte[] expected = Qemu.activeBytes(img, dir);
        System.arraycopy(marker, 0, expected, 5 * M, marker.length);
        Bytes.assertSameBytes(expected, after, "the update of only.raw");
        long freed = (blocksBefore - blocks(out)) * 512;
        assertTrue(freed >= 4L * M, "the 4 MiB that now read zeros are holes: " + freed + " bytes freed");
    }

    private static long blocks(Path file) {
        return Long.parseLong(Processes.ok("stat", "-c", "%b", file.toString()).trim());
    }

    @Test
    void acrossResizes() throws Exception {
        Path img = Qemu.create(dir.resolve("c.qcow2"), "8M", "");
        Qemu.io(img, "write -P 0x31 0 8M");
        Qemu.snapshot(img, "small");
        Qemu.resize(img, "12M");
        Qemu.io(img, "write -P 0x32 9M 1M", "write -P 0x33 1M 64k");
        Qemu.snapshot(img, "large");
        Qemu.img("resize", "-q", "--shrink", img.toString(), "6M");
        Qemu.io(img, "write -P 0x34 5M 4k");
        assertUpdates(img, "1", "2");
        assertUpdates(img, "2", "1");
        assertUpdates(img, "1", null);
        assertUpdates(img, "2", null);
    }

    @Test
    void overBackingFiles() throws Exception {
        for (String format : List.of("raw", "qcow2")) {
            Path base = dir.resolve("base-" + format);
            if (format.equals("raw")) {
                Bytes.writeFile(base, Bytes.noise(4 * M, 3));
            } else {
                Qemu.create(base, "4M", "");
                Qemu.io(base, "write -P 0x41 0 2M", "write -z 3M 64k");
            }
            Path img = dir.resolve("over-" + format + ".qcow2");
            Qemu.img("create", "-q", "-f", "qcow2", "-b", base.getFileName().toString(), "-F", format,
                    img.toString(), "6M");
            Qemu.io(img, "write -P 0x42 64k 64k");
            Qemu.snapshot(img, "one");
            Qemu.io(img, "write -z 1M 128k", "discard 64k 64k", "write -P 0x43 5M 64k", "write -z -u 3M 64k");
            Qemu.snapshot(img, "two");
            assertUpdates(img, "1", "2");
            assertUpdates(img, "2", "1");
        }
    }

    /** {@code -O qcow2 --since FROM -B BACKING} over a raw and a qcow2 export of FROM. */
    private void assertDeltaChains(Path image, String from, String to) {
        long toSize = to == null ? Qemu.virtualSize(image) : snapshotSize(image, to);
        byte[] expected = qemuBytes(image, to, toSize);
        for (String format : List.of("raw", "qcow2")) {
            Path backing = dir.resolve("from-" + from + "." + format);
            CliRun b = CliRun.of("export", image.toString(), "-s", from, "-O", format, backing.toString());
            assertEquals(0, b.status(), b.toString());
            Path delta = dir.resolve("delta-" + from + "-" + to + "-over-" + format + ".qcow2");
            CliRun r = to == null
                    ? CliRun.of("export", image.toString(), "-O", "qcow2", "--since", from, "-B",
                            backing.getFileName().toString(), delta.toString())
                    : CliRun.of("export", image.toString(), "-s", to, "-O", "qcow2", "--since", from, "-B",
                            backing.getFileName().toString(), delta.toString());
            assertEquals(0, r.status(), r.toString());
            assertTrue(Qemu.check(delta).clean(), Qemu.checkText(delta));
            Bytes.assertSameBytes(expected, Qemu.activeBytes(delta, dir), image.getFileName() + " delta from " + from
                    + " to " + (to == null ? "active" : to) + " over a " + format + " export");
        }
    }

    @Test
    void qcow2DeltasRestoreTo() throws Exception {
        Path img = Qemu.create(dir.resolve("d.qcow2"), "8M", "");
        Qemu.io(img, "write -P 0x61 0 6M", "write -P 0x61 7M 1M");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -z 0 256k", "write -P 0x62 1M 100k", "write -c -P 0x63 6M 64k", "discard 7M 64k");
        Qemu.snapshot(img, "two");
        Qemu.resize(img, "10M");
        Qemu.io(img, "write -P 0x64 9M 64k");
        assertDeltaChains(img, "1", "2");
        assertDeltaChains(img, "2", "1");
        assertDeltaChains(img, "1", null);

        Path base = Qemu.create(dir.resolve("d-base.qcow2"), "4M", "");
        Qemu.io(base, "write -P 0x65 0 4M");
        Path over = dir.resolve("d-over.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "d-base.qcow2", "-F", "qcow2", over.toString(), "4M");
        Qemu.snapshot(over, "one");
        Qemu.io(over, "write -z 1M 64k", "write -P 0x66 2M 4k");
        assertDeltaChains(over, "1", null);
    }

    @Test
    void qcow2DeltaRefusals() throws Exception {
        Path img = Qemu.create(dir.resolve("r.qcow2"), "4M", "");
        Qemu.snapshot(img, "one");
        Path raw = dir.resolve("one.raw");
        Bytes.writeFile(raw, new byte[4 * M]);
        Path small = dir.resolve("small.raw");
        Bytes.writeFile(small, new byte[M]);
        Path out = dir.resolve("delta.qcow2");
        String[][] cases = {
            {"needs -B BACKING", "-O", "qcow2", "--since", "one"},
            {"-B and -F need --since FROM", "-O", "qcow2", "-B", "one.raw"},
            {"-B and -F are for -O qcow2 --since FROM", "--since", "one", "-B", "one.raw", "--in-place"},
            {"--in-place updates a raw OUT", "-O", "qcow2", "--since", "one", "-B", "one.raw", "--in-place"},
        };
        for (String[] c : cases) {
            String[] args = new String[c.length + 2];
            args[0] = "export";
            args[1] = img.toString();
            System.arraycopy(c, 1, args, 2, c.length - 1);
            args[args.length - 1] = out.toString();
            CliRun r = CliRun.of(args);
            assertEquals(2, r.status(), r.toString());
            assertTrue(r.err().contains(c[0]), c[0] + ": " + r.err());
        }
        CliRun missing = CliRun.of("export", img.toString(), "-O", "qcow2", "--since", "one", "-B", "nope.raw",
                out.toString());
        assertEquals(1, missing.status(), missing.toString());
        assertTrue(missing.err().contains("nope.raw: does not exist"), missing.err());
        CliRun sized = CliRun.of("export", img.toString(), "-O", "qcow2", "--since", "one", "-B", "small.raw",
                out.toString());
        assertEquals(1, sized.status(), sized.toString());
        assertTrue(sized.err().contains("small.raw: its disk is 1048576 bytes, but r.qcow2 snapshot 1 is 4194304"),
                sized.err());
        CliRun wrongFormat = CliRun.of("export", img.toString(), "-O", "qcow2", "--since", "one", "-B", "one.raw",
                "-F", "qcow2", out.toString());
        assertEquals(1, wrongFormat.status(), wrongFormat.toString());
        assertTrue(wrongFormat.err().contains("one.raw: is not a qcow2 image, but -F says qcow2"), wrongFormat.err());
        CliRun imageAsBacking = CliRun.of("export", img.toString(), "-O", "qcow2", "--since", "one", "-B", "r.qcow2",
                out.toString());
        assertEquals(1, imageAsBacking.status(), imageAsBacking.toString());
        assertTrue(imageAsBacking.err().contains("r.qcow2: is the image r.qcow2, not an export of r.qcow2 snapshot 1"),
                imageAsBacking.err());
        CliRun ontoBacking = CliRun.of("export", img.toString(), "-O", "qcow2", "--since", "one", "-B", "one.raw",
                raw.toString());
        assertEquals(1, ontoBacking.status(), ontoBacking.toString());
        assertTrue(ontoBacking.err().contains("is the backing file named by -B"), ontoBacking.err());
        CliRun ontoImage = CliRun.of("export", img.toString(), "-O", "qcow2", "--since", "one", "-B", "one.raw",
                img.toString());
        assertEquals(1, ontoImage.status(), ontoImage.toString());
        assertTrue(ontoImage.err().contains("is the image r.qcow2; refusing"), ontoImage.err());
        assertTrue(Qemu.check(img).clean());
        assertTrue(!Files.exists(out), "no OUT left by a refusal");
    }

    @Test
    void refusesWhatCannotBeACopyOfFrom() throws Exception {
        Path base = dir.resolve("base.raw");
        Bytes.writeFile(base, Bytes.noise(4 * M, 5));
        Path img = dir.resolve("img.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", img.toString(), "4M");
        Qemu.snapshot(img, "one");
        byte[] baseBefore = Bytes.readFile(base);
        byte[] imgBefore = Bytes.readFile(img);

        CliRun self = update(img, null, "one", img);
        assertEquals(1, self.status(), self.toString());
        assertTrue(self.err().contains("is the image img.qcow2; refusing"), self.err());
        CliRun backing = update(img, null, "one", base);
        assertEquals(1, backing.status(), backing.toString());
        assertTrue(backing.err().contains("is a backing file of img.qcow2; refusing"), backing.err());
        Bytes.assertSameBytes(baseBefore, Bytes.readFile(base), "the backing file");
        Bytes.assertSameBytes(imgBefore, Bytes.readFile(img), "the image");

        Path wrongSize = dir.resolve("wrong.raw");
        Bytes.writeFile(wrongSize, new byte[M]);
        CliRun sized = update(img, null, "one", wrongSize);
        assertEquals(1, sized.status(), sized.toString());
        assertTrue(sized.err().contains("wrong.raw: is 1048576 bytes, but img.qcow2 snapshot 1 is 4194304 bytes"),
                sized.err());
        assertEquals(M, Files.size(wrongSize));

        CliRun missing = update(img, null, "one", dir.resolve("missing.raw"));
        assertEquals(1, missing.status(), missing.toString());
        assertTrue(missing.err().contains("missing.raw: does not exist"), missing.err());
        CliRun unknown = update(img, null, "nope", wrongSize);
        assertEquals(1, unknown.status(), unknown.toString());
        assertTrue(unknown.err().contains("img.qcow2: no snapshot with ID or name 'nope'"), unknown.err());
        CliRun noSince = CliRun.of("export", img.toString(), "--in-place", wrongSize.toString());
        assertEquals(2, noSince.status(), noSince.toString());
        assertTrue(noSince.err().contains("--in-place needs --since FROM"), noSince.err());
    }

    @Test
    void aFullDiskLeavesAClearError() throws Exception {
        Path img = Qemu.create(dir.resolve("full.qcow2"), "16M", "");
        Qemu.snapshot(img, "empty");
        Qemu.io(img, "write -P 0x51 0 12M");
        Path small = Files.createDirectory(dir.resolve("small"));
        Processes.ok("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small.toString());
        try {
            Path out = small.resolve("copy.raw");
            Processes.ok("truncate", "-s", "16M", out.toString()); // all holes: a raw copy of the empty disk
            CliRun r = update(img, null, "1", out);
            assertEquals(1, r.status(), r.toString());
            assertTrue(r.err().startsWith("qsnapfs: ") && r.err().contains("copy.raw")
                    && r.err().contains("No space left on device"), r.err());
        } finally {
            Processes.ok("umount", small.toString());
        }
    }
}
