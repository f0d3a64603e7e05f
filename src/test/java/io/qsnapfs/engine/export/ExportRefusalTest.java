package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an export refuses, before OUT is touched: an OUT that is not a regular file, a disk beyond
 * the format's L1 table limit for the cluster size, an impossible cluster size. And the largest
 * disk the limit allows, which is exported.
 */
class ExportRefusalTest {
    @TempDir
    Path dir;

    @Test
    void anOutThatIsNotARegularFileIsLeftAlone() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "1M", "");
        Path directory = Files.createDirectory(dir.resolve("out.qcow2"));
        try (QcowImage img = QcowImage.open(image)) {
            ImageException e = assertThrows(ImageException.class,
                    () -> QcowExport.standalone(img.activeView(), 16, directory, (done, total) -> { }));
            assertEquals(ImageException.Kind.IS_DIRECTORY, e.kind());
            assertEquals("out.qcow2: is a directory; a qcow2 image is written to a regular file", e.getMessage());
            assertTrue(Files.isDirectory(directory));

            Path device = Path.of("/dev/null");
            e = assertThrows(ImageException.class,
                    () -> QcowExport.standalone(img.activeView(), 16, device, (done, total) -> { }));
            assertEquals(ImageException.Kind.INVALID_ARGUMENT, e.kind());
            assertTrue(e.getMessage().startsWith("null: is not a regular file"), e.getMessage());
        }
    }

    @Test
    void aDiskBeyondTheL1LimitIsRefusedNamingOut() throws IOException {
        // 512-byte clusters: an L2 table covers 32 KiB, 32 MiB of L1 table 128 GiB.
        Path image = Qemu.create(dir.resolve("image.qcow2"), ((128L << 30) + 512) + "", "");
        Path out = dir.resolve("out.qcow2");
        try (QcowImage img = QcowImage.open(image)) {
            ImageException e = assertThrows(ImageException.class,
                    () -> QcowExport.standalone(img.activeView(), 9, out, (done, total) -> { }));
            assertEquals(ImageException.Kind.INVALID_ARGUMENT, e.kind());
            assertEquals("out.qcow2: a disk of 137438953984 bytes is too large for a qcow2 image of 512-byte clusters:"
                    + " its L1 table would have 4194305 entries, more than the 32 MiB limit allows (4194304)",
                    e.getMessage());
            assertFalse(Files.exists(out));
            for (int clusterBits : new int[] {8, 22}) {
                e = assertThrows(ImageException.class,
                        () -> QcowExport.standalone(img.activeView(), clusterBits, out, (done, total) -> { }));
                assertEquals("out.qcow2: cluster_bits " + clusterBits + " is outside the valid range 9..21",
                        e.getMessage());
                assertFalse(Files.exists(out));
            }
        }
    }

    @Test
    void theLargestDiskTheL1LimitAllowsIsExported() throws IOException {
        Path image = Qemu.create(dir.resolve("image.qcow2"), "128G", "");
        Qemu.io(image, "write -P 0x11 0 64k", "write -P 0x22 100G 4k", "write -P 0x33 131071M 1M");
        Path out = dir.resolve("out.qcow2");
        try (QcowImage img = QcowImage.open(image)) {
            QcowExport.standalone(img.activeView(), 9, out, (done, total) -> { });
        }
        assertEquals(4194304, TableWalk.of(out).header().l1Size());
        Oracle.assertClean(out);
        assertEquals(128L << 30, Qemu.virtualSize(out));
        Processes.Output same = Qemu.run(List.of("qemu-img", "compare", image.toString(), out.toString()));
        assertEquals(0, same.exitCode(), "qemu-img compare: " + same.stdout() + same.stderr());
        // 2,184 data clusters in 35 L2 tables, 65,536 clusters of L1 table: nothing else is allocated.
        assertTrue(Files.size(out) < 40L << 20, "file size " + Files.size(out));
    }
}
