package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmokeReadTest {
    @TempDir
    Path dir;

    @Test
    void snapshotsReadLikeQemu() {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "8M", "");
        Qemu.io(img, "write -P 0xab 0 1M", "write -P 0x11 3M 64k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 0xcd 512k 1M", "write -z 3M 4k");
        Qemu.snapshot(img, "two");
        Qemu.io(img, "write -P 0xee 0 64k");
        try (QcowImage image = QcowImage.open(img)) {
            assertEquals(2, image.snapshots().size());
            for (SnapshotEntry s : image.snapshots()) {
                byte[] expected = Qemu.snapshotBytes(img, s.idString(), dir);
                Bytes.assertSameBytes(expected, Oracle.readAll(Ours.disk(image.snapshotView(s)), 128 * 1024),
                        s.toString());
            }
            Bytes.assertSameBytes(Qemu.activeBytes(img, dir), Oracle.readAll(Ours.disk(image.activeView()), 100_000),
                    "active");
        }
    }
}
