package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.DiffExtent;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.HeaderFields;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.testing.ChildJvm;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.RecordingFileChannel;
import io.qsnapfs.testing.RecordingFileChannel.Crash;
import io.qsnapfs.testing.RecordingFileChannel.Event;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An interrupted export leaves a file that says so: QEMU and qsnapfs refuse it, naming the
 * incomplete-export feature; never an image that opens with wrong bytes. Interrupted by a failing
 * source disk, by a JVM that ends midway, and by a crash replayed at every write of an export.
 */
class InterruptedExportTest {
    /** Prefix crash states checked per export at most (a seeded sample beyond that). */
    private static final int MAX_PREFIX_STATES = 60;
    private static final long SEED = 4_200_017L;

    @TempDir
    Path dir;

    private Path image(String clusterSize) {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "8M", "cluster_size=" + clusterSize);
        Qemu.io(image, "write -P 0x11 0 3M", "write -c -P 0x22 4M 256k", "write -z 5M 64k", "write -P 0x33 7M 1M");
        return image;
    }

    @Test
    void aSourceThatFailsMidwayLeavesAnImageEveryReaderRefuses() throws IOException {
        Path image = image("4096");
        try (QcowImage img = QcowImage.open(image)) {
            BlockSource failing = new StoppingSource(img.activeView(), 5 << 20, false);
            Path standalone = dir.resolve("standalone.qcow2");
            IOException e = assertThrows(IOException.class,
                    () -> QcowExport.standalone(failing, 12, standalone, (done, total) -> { }));
            assertTrue(e.getMessage().contains("read error"), e.getMessage());
            assertTrue(Files.size(standalone) > 1 << 20, "the export stopped midway: " + Files.size(standalone));
            ExportChecks.assertRefusedAsIncomplete(standalone, "standalone export with a failing source");

            Path delta = dir.resolve("delta.qcow2");
            assertThrows(IOException.class, () -> QcowExport.delta(failing,
                    Exporter.Changes.of(List.of(new DiffExtent(0, 8 << 20, false))), 12, "base.raw", "raw", delta, (done, total) -> { }));
            ExportChecks.assertRefusedAsIncomplete(delta, "delta export with a failing source");
        }
    }

    @Test
    void aJvmEndedMidwayLeavesAnImageEveryReaderRefuses() throws IOException {
        Path image = image("65536");
        Path out = dir.resolve("halted.qcow2");
        ChildJvm.run(HaltedExport.class, 120, "an export ended midway", image.toString(), out.toString(), "9",
                String.valueOf(6 << 20));
        assertTrue(Files.size(out) > 1 << 20, "the export stopped midway: " + Files.size(out));
        ExportChecks.assertRefusedAsIncomplete(out, "an export whose JVM ended midway");
    }

    @Test
    void everyCrashPointOfAStandaloneExportLeavesNothingARefusedImageOrTheWholeImage() throws IOException {
        Path image = image("4096");
        try (QcowImage img = QcowImage.open(image)) {
            Path expected = Qemu.convertToFile(image, null, dir.resolve("expected.raw"));
            replay("standalone", expected,
                    open -> QcowExport.standalone(img.activeView(), 12, dir.resolve("out.qcow2"), open,
                            (done, total) -> { }));
        }
    }

    @Test
    void everyCrashPointOfADeltaExportLeavesNothingARefusedImageOrTheWholeImage() throws IOException {
        Path image = image("65536");
        Qemu.snapshot(image, "from");
        Qemu.img("convert", "-l", "snapshot.id=1", "-O", "raw", image.toString(), dir.resolve("from.raw").toString());
        Qemu.io(image, "write -P 0x44 1M 4k", "write -z 7M 128k");
        try (QcowImage img = QcowImage.open(image)) {
            Path expected = Qemu.convertToFile(image, null, dir.resolve("expected.raw"));
            List<DiffExtent> changes = List.of(new DiffExtent(1 << 20, 4096, false),
                    new DiffExtent(7 << 20, 128 << 10, true));
            replay("delta", expected, open -> QcowExport.delta(img.activeView(), Exporter.Changes.of(changes), 16, "from.raw", "raw",
                    dir.resolve("out.qcow2"), open, (done, total) -> { }));
        }
    }

    /** An export into the file {@code open} makes of OUT. */
    @FunctionalInterface
    private interface Export {
        void run(Function<Path, OutputFile> open) throws IOException;
    }

    /**
     * Runs {@code export} into {@code out.qcow2} under a recording channel, then rebuilds the file
     * a crash before each of its writes would leave (only what a sync made durable; and every write
     * before the crash) and judges each: empty, refused as incomplete, or the finished image.
     */
    private void replay(String what, Path expected, Export export) throws IOException {
        Path out = dir.resolve("out.qcow2");
        Files.createFile(out);
        RecordingFileChannel channel = RecordingFileChannel.open(out);
        export.run(path -> OutputFile.over(PositionalFile.wrap(path, channel)));
        List<Event> log = channel.log();
        int changes = RecordingFileChannel.changes(log);
        assertTrue(log.get(log.size() - 1) instanceof RecordingFileChannel.Force, what + ": did not end with a sync");
        ExportChecks.assertImage(out, expected, what + " finished");
        byte[] finished = Files.readAllBytes(out);

        TreeSet<Integer> barrier = new TreeSet<>();
        for (int k = 0; k <= changes; k++) {
            barrier.add(RecordingFileChannel.survivors(log, k, Crash.FLUSH_BARRIER));
        }
        // Three syncs: after the header, before and after the write that marks the image complete.
        assertEquals(4, barrier.size(), what + ": flush-barrier states " + barrier);
        Path crash = dir.resolve("crash.qcow2");
        for (int survivors : barrier) {
            Files.write(crash, RecordingFileChannel.apply(new byte[0], log, survivors));
            judge(crash, finished, what + ", a crash keeping the " + survivors + " writes synced by then");
        }

        TreeSet<Integer> ks = new TreeSet<>(List.of(0, 1, 2, changes - 1, changes));
        Random r = new Random(SEED + what.hashCode());
        while (ks.size() < Math.min(changes + 1, MAX_PREFIX_STATES)) {
            ks.add(r.nextInt(changes + 1));
        }
        for (int k : ks) {
            RecordingFileChannel.crashImage(new byte[0], log, k, Crash.PREFIX, crash);
            judge(crash, finished, what + ", a crash before write " + k + " of " + changes + " (every write before it"
                    + " durable)");
        }
    }

    /** An empty file, an image refused as incomplete, or exactly the finished image. */
    private static void judge(Path crash, byte[] finished, String what) {
        try {
            byte[] bytes = Files.readAllBytes(crash);
            if (bytes.length == 0) {
                return;
            }
            if (bytes.length > HeaderFields.INCOMPATIBLE_OFFSET && (bytes[HeaderFields.INCOMPATIBLE_OFFSET] & 0x80) != 0) {
                ExportChecks.assertRefusedAsIncomplete(crash, what);
                return;
            }
            if (bytes.length != finished.length) {
                fail(what + ": a file of " + bytes.length + " bytes without the incomplete bit");
            }
            assertArrayEquals(finished, bytes, what + ": the incomplete bit is clear before the image is whole");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
