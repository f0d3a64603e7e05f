package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Qemu;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The copy loop of export on its own: chunk boundaries that cut through clusters and extents,
 * several streams at once, and sequential targets, all against qemu-img's bytes.
 */
class ExporterTest {
    @TempDir
    Path dir;

    private Path image() {
        Path img = Qemu.create(dir.resolve("e.qcow2"), "9M", "cluster_size=4k");
        Qemu.io(img, "write -P 0x11 0 3M", "write -c -P 0x22 3M 40k", "write -z 4M 12k", "write -P 0x33 5000k 300k",
                "write -P 0x44 8M 1M");
        Qemu.snapshot(img, "s");
        Qemu.io(img, "write -P 0x55 1M 1M");
        return img;
    }

    @Test
    void oddChunkSizesAndSeveralStreamsGiveQemuBytes() throws Exception {
        Path img = image();
        byte[] expected = Qemu.snapshotBytes(img, "1", dir);
        try (QcowImage image = QcowImage.open(img)) {
            SnapshotEntry s = image.findSnapshot("s");
            for (long chunk : new long[] {4096, 65536 + 512, 1 << 20, 3_000_000, 64L << 20}) {
                for (int streams : new int[] {1, 3, 8}) {
                    Path out = dir.resolve("out-" + chunk + "-" + streams + ".raw");
                    List<Long> reports = Collections.synchronizedList(new ArrayList<>());
                    new Exporter(image.snapshotView(s), chunk, streams).toFile(out, (done, total) -> reports.add(done));
                    Bytes.assertSameBytes(expected, Files.readAllBytes(out), "chunk " + chunk + ", streams " + streams);
                    assertEquals(expected.length, Collections.max(reports), "progress reaches the end");
                    assertEquals((expected.length + chunk - 1) / chunk, reports.size(), "one report per chunk");
                    Files.delete(out);
                }
            }
        }
    }

    @Test
    void sequentialChannelGetsZerosWritten() throws Exception {
        Path img = image();
        byte[] expected = Qemu.snapshotBytes(img, "1", dir);
        try (QcowImage image = QcowImage.open(img)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            new Exporter(image.snapshotView(image.findSnapshot("1")), 1_000_000, 4)
                    .toChannel(Channels.newChannel(out), Exporter.Progress.NONE);
            Bytes.assertSameBytes(expected, out.toByteArray(), "channel");
        }
    }

    @Test
    void rejectsNonsenseSettings() {
        assertThrows(IllegalArgumentException.class, () -> new Exporter(null, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new Exporter(null, 1, 0));
    }

    @Test
    void emptyDiskGivesEmptyFile() throws Exception {
        Path img = Qemu.create(dir.resolve("empty.qcow2"), "0", "");
        Path out = dir.resolve("empty.raw");
        Files.write(out, new byte[100]);
        try (QcowImage image = QcowImage.open(img)) {
            new Exporter(image.activeView()).toFile(out, Exporter.Progress.NONE);
        }
        assertTrue(Files.exists(out));
        assertEquals(0, Files.size(out));
    }
}
