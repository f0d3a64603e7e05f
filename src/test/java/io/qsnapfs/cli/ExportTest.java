package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qsnapfs export} against {@code qemu-img convert -l snapshot.id=N -O raw}. */
class ExportTest {
    @TempDir
    Path dir;

    private Path export(Path image, String snapshot, String... extra) {
        Path out = dir.resolve("out-" + System.nanoTime() + ".raw");
        String[] args = snapshot == null
                ? new String[] {"export", image.toString(), out.toString()}
                : new String[] {"export", image.toString(), "--snapshot", snapshot, out.toString()};
        CliRun r = CliRun.of(concat(args, extra));
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.err(), "no progress bar when not at a terminal");
        assertEquals(0, r.out().length);
        return out;
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** Every snapshot of {@code image}, exported by ID, has exactly qemu-img's bytes. */
    private void assertEverySnapshotLikeQemu(Path image, String... extra) throws Exception {
        List<SnapshotEntry> snapshots;
        try (QcowImage img = QcowImage.open(image)) {
            snapshots = img.snapshots();
        }
        assertFalse(snapshots.isEmpty());
        for (SnapshotEntry s : snapshots) {
            Path out = export(image, s.idString(), extra);
            Bytes.assertSameBytes(Qemu.snapshotBytes(image, s.idString(), dir), Files.readAllBytes(out),
                    image.getFileName() + " snapshot " + s.idString());
            Files.delete(out);
        }
    }

    @Test
    void holesZeroClustersAndDataLikeQemu() throws Exception {
        Path img = Qemu.create(dir.resolve("holes.qcow2"), "24M", "");
        Qemu.io(img, "write -P 0xab 0 1M", "write -P 0x11 5M 64k", "write -P 0x12 9M 100k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -z 0 256k", "write -z -u 5M 64k", "write -P 0xcd 512k 1M", "discard 9M 64k");
        Qemu.snapshot(img, "two");
        Qemu.io(img, "write -P 0xee 20M 1M");
        assertEverySnapshotLikeQemu(img);
        assertEverySnapshotLikeQemu(img, "--streams", "1");
    }

    @Test
    void compressedClustersLikeQemu() throws Exception {
        for (String type : new String[] {"zlib", "zstd"}) {
            Path img = Qemu.create(dir.resolve("comp-" + type + ".qcow2"), "8M", "compression_type=" + type);
            Qemu.io(img, "write -c -P 0x41 0 64k", "write -c -P 0x42 64k 64k", "write -P 0x43 1M 64k",
                    "write -c -P 0x44 2M 128k");
            Qemu.snapshot(img, "c1");
            Qemu.io(img, "write -c -P 0x45 4M 64k", "write -P 0x46 0 4k");
            Qemu.snapshot(img, "c2");
            assertEverySnapshotLikeQemu(img);
        }
    }

    @Test
    void extendedL2SubclustersLikeQemu() throws Exception {
        Path img = Qemu.create(dir.resolve("ext.qcow2"), "8M", "extended_l2=on,cluster_size=128k");
        Qemu.io(img, "write -P 0x61 4k 4k", "write -P 0x62 200k 20k", "write -z 1M 8k");
        Qemu.snapshot(img, "sub");
        Qemu.io(img, "write -P 0x63 0 4k");
        assertEverySnapshotLikeQemu(img);
    }

    @Test
    void backingChainLikeQemu() throws Exception {
        Path base = Qemu.create(dir.resolve("base.qcow2"), "8M", "");
        Qemu.io(base, "write -P 0x01 0 8M");
        Path raw = dir.resolve("raw-base.raw");
        Qemu.img("convert", "-O", "raw", base.toString(), raw.toString());
        Path mid = dir.resolve("mid.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "raw-base.raw", "-F", "raw", mid.toString(), "12M");
        Qemu.io(mid, "write -P 0x02 1M 1M", "write -z 2M 64k");
        Path top = dir.resolve("top.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top.toString(), "16M");
        Qemu.io(top, "write -P 0x03 3M 64k");
        Qemu.snapshot(top, "chain");
        Qemu.io(top, "write -P 0x04 0 4M");
        assertEverySnapshotLikeQemu(top);
    }

    /** {@code -O qcow2}: a standalone image that qemu-img finds clean and reads as the snapshot. */
    @Test
    void qcow2ImagesLikeQemu() throws Exception {
        Path base = Qemu.create(dir.resolve("q-base.qcow2"), "8M", "");
        Qemu.io(base, "write -P 0x01 0 8M");
        Path img = dir.resolve("q.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "q-base.qcow2", "-F", "qcow2", "-o", "cluster_size=4096",
                img.toString(), "8M");
        Qemu.io(img, "write -P 0x02 1M 1M", "write -z 2M 64k", "write -c -P 0x03 3M 64k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 0x04 0 512k", "discard 1M 64k");
        Qemu.snapshot(img, "two");
        for (String id : new String[] {"1", "2", null}) {
            Path out = dir.resolve("q-" + id + ".qcow2");
            CliRun r = id == null ? CliRun.of("export", img.toString(), "-O", "qcow2", out.toString())
                    : CliRun.of("export", img.toString(), "-s", id, "-O", "qcow2", out.toString());
            assertEquals(0, r.status(), r.toString());
            assertTrue(Qemu.check(out).clean(), Qemu.checkText(out));
            assertFalse(Qemu.img("info", "--output", "json", out.toString()).contains("backing-filename"),
                    "a standalone image names no backing file");
            byte[] expected = id == null ? Qemu.activeBytes(img, dir) : Qemu.snapshotBytes(img, id, dir);
            Bytes.assertSameBytes(expected, Qemu.activeBytes(out, dir), "qcow2 export of " + id);
        }
        CliRun stdout = CliRun.of("export", img.toString(), "-O", "qcow2", "-");
        assertEquals(2, stdout.status(), stdout.toString());
        assertTrue(stdout.err().contains("-O qcow2 needs OUT to be a file"), stdout.err());
    }

    @Test
    void snapshotByNameAndActiveLayer() throws Exception {
        Path img = Qemu.create(dir.resolve("named.qcow2"), "8M", "");
        Qemu.io(img, "write -P 0x31 0 1M");
        Qemu.snapshot(img, "nightly");
        Qemu.io(img, "write -P 0x32 0 512k");
        Bytes.assertSameBytes(Qemu.snapshotBytes(img, "1", dir), Files.readAllBytes(export(img, "nightly")),
                "by name");
        Bytes.assertSameBytes(Qemu.activeBytes(img, dir), Files.readAllBytes(export(img, null)), "active layer");
    }

    /**
     * A snapshot taken before the image grew exports at its own disk size. qemu-img convert -l
     * writes the image's current size instead, zeros past the snapshot's end; the bytes they have
     * in common must agree.
     */
    @Test
    void snapshotKeepsItsOwnDiskSizeAfterResize() throws Exception {
        Path img = Qemu.create(dir.resolve("resized.qcow2"), "8M", "");
        Qemu.io(img, "write -P 0x71 7M 1M");
        Qemu.snapshot(img, "small");
        Qemu.resize(img, "20M");
        Qemu.io(img, "write -P 0x72 12M 1M");
        Path out = export(img, "small");
        assertEquals(8L << 20, Files.size(out));
        byte[] qemu = Qemu.snapshotBytes(img, "1", dir);
        assertEquals(20L << 20, qemu.length, "qemu-img writes the current size");
        Bytes.assertSameBytes(java.util.Arrays.copyOf(qemu, 8 << 20), Files.readAllBytes(out), "resized");
        assertArrayEquals(new byte[12 << 20], java.util.Arrays.copyOfRange(qemu, 8 << 20, qemu.length));
    }

    @Test
    void outputIsSparse() throws Exception {
        Path img = Qemu.create(dir.resolve("sparse.qcow2"), "1G", "");
        Qemu.io(img, "write -P 0x5a 100M 1M", "write -z 200M 10M");
        Qemu.snapshot(img, "mostly-empty");
        Path out = export(img, "1");
        assertEquals(1L << 30, Files.size(out));
        long allocated = Long.parseLong(Processes.ok("du", "--block-size=1", out.toString()).split("\\s+")[0]);
        assertTrue(allocated <= 4L << 20, "export of a 1 GiB snapshot with 1 MiB of data allocates " + allocated
                + " bytes");
    }

    @Test
    void existingOutputIsTruncatedToTheDiskSize() throws Exception {
        Path img = Qemu.create(dir.resolve("trunc.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        Path out = dir.resolve("existing.raw");
        Files.write(out, new byte[6 << 20]);
        Files.write(out, new byte[] {1, 2, 3});
        CliRun r = CliRun.of("export", img.toString(), "-s", "s", out.toString());
        assertEquals(0, r.status(), r.toString());
        assertArrayEquals(new byte[4 << 20], Files.readAllBytes(out));
    }

    @Test
    void toStandardOutput() throws Exception {
        Path img = Qemu.create(dir.resolve("stdout.qcow2"), "4M", "");
        Qemu.io(img, "write -P 0x77 1M 64k", "write -c -P 0x78 2M 64k");
        Qemu.snapshot(img, "s");
        CliRun r = CliRun.of("export", img.toString(), "--snapshot", "1", "-");
        assertEquals(0, r.status(), r.toString());
        Bytes.assertSameBytes(Qemu.snapshotBytes(img, "1", dir), r.out(), "stdout");
    }

    @Test
    void atATerminalProgressGoesToStandardErrorAndStandardOutputIsRefused() throws Exception {
        Path img = Qemu.create(dir.resolve("tty.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        Streams terminal = new Streams(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true), true);
        assertEquals(0, Main.run(terminal, "export", img.toString(), "-s", "s", dir.resolve("tty.raw").toString()));
        assertEquals(0, out.size());
        assertTrue(err.toString().contains("100%"), err.toString());

        err.reset();
        assertEquals(0, Main.run(terminal, "export", "-q", img.toString(), "-s", "s", dir.resolve("q.raw").toString()));
        assertEquals("", err.toString(), "--quiet");

        assertEquals(1, Main.run(terminal, "export", img.toString(), "-s", "s", "-"));
        assertEquals("qsnapfs: tty.qcow2 snapshot 1: refusing to write a raw disk to a terminal;"
                + " name an output file or redirect standard output\n", err.toString());
        assertEquals(0, out.size());
    }

    @Test
    void refusesToOverwriteTheImageOrItsBackingFile() throws Exception {
        Path base = Qemu.create(dir.resolve("keep-base.qcow2"), "4M", "");
        Path img = dir.resolve("keep.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "keep-base.qcow2", "-F", "qcow2", img.toString());
        Qemu.snapshot(img, "s");
        byte[] imageBefore = Files.readAllBytes(img);
        byte[] baseBefore = Files.readAllBytes(base);

        CliRun self = CliRun.of("export", img.toString(), "-s", "s", img.toString());
        assertEquals(1, self.status(), self.toString());
        assertEquals("qsnapfs: " + img + ": is the image keep.qcow2; refusing to overwrite it\n", self.err());

        Path link = dir.resolve("link-to-base");
        Files.createSymbolicLink(link, base);
        CliRun backing = CliRun.of("export", img.toString(), "-s", "s", link.toString());
        assertEquals(1, backing.status(), backing.toString());
        assertEquals("qsnapfs: " + link + ": is a backing file of keep.qcow2; refusing to overwrite it\n",
                backing.err());

        assertArrayEquals(imageBefore, Files.readAllBytes(img));
        assertArrayEquals(baseBefore, Files.readAllBytes(base));
    }

    @Test
    void missingOutputDirectoryIsOneLine() {
        Path img = Qemu.create(dir.resolve("nodir.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        Path out = dir.resolve("no/such/dir/out.raw");
        CliRun r = CliRun.of("export", img.toString(), "-s", "s", out.toString());
        assertEquals(1, r.status(), r.toString());
        assertEquals("qsnapfs: " + out + ": No such file or directory\n", r.err());
        assertFalse(Files.exists(out));
    }
}
