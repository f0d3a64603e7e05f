package io.qsnapfs.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.MetadataGuard.Structure;
import io.qsnapfs.engine.write.WritableImage;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.RecordingFileChannel.Event;
import io.qsnapfs.testing.RecordingFileChannel.Write;
import io.qsnapfs.testing.RecordingFileChannel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes of one step go out in offset order, neighbours as one write, each checked by the guard first. */
class WriteBatchTest {
    @TempDir
    Path dir;

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static List<Write> writes(List<Event> log) {
        return log.stream().filter(Write.class::isInstance).map(Write.class::cast).toList();
    }

    @Test
    void neighboursGoOutAsOneWriteInOffsetOrder() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "1M", "cluster_size=4096");
        RecordingFileChannel channel = RecordingFileChannel.open(img);
        try (ImageFile f = ImageFile.over(PositionalFile.wrap(img, channel))) {
            MetadataGuard guard = new MetadataGuard(f, 12);
            for (long offset : new long[] {0x10000, 0x11000, 0x12000, 0x20000}) {
                guard.claim(Structure.L2, offset, 4096);
            }
            WriteBatch batch = guard.batch();
            batch.add(Structure.L2, 0x20000, 0x20000, ByteBuffer.wrap(filled(4096, 4)));
            batch.add(Structure.L2, 0x12000, 0x12000, ByteBuffer.wrap(filled(4096, 3)));
            batch.add(Structure.L2, 0x10000, 0x10000, ByteBuffer.wrap(filled(4096, 1)));
            batch.add(Structure.L2, 0x11000, 0x11000, ByteBuffer.wrap(filled(4096, 2)));
            assertTrue(channel.log().isEmpty(), "nothing is written before write()");
            batch.write();
            f.sync(); // waits for the write thread
        }
        List<Write> writes = writes(channel.log());
        assertEquals(2, writes.size(), writes.toString());
        assertEquals(0x10000, writes.get(0).position());
        byte[] run = new byte[3 * 4096];
        System.arraycopy(filled(4096, 1), 0, run, 0, 4096);
        System.arraycopy(filled(4096, 2), 0, run, 4096, 4096);
        System.arraycopy(filled(4096, 3), 0, run, 8192, 4096);
        assertArrayEquals(run, writes.get(0).data());
        assertEquals(0x20000, writes.get(1).position());
        assertArrayEquals(filled(4096, 4), writes.get(1).data());
    }

    @Test
    void aRefusedWriteStopsTheBatchBeforeAnythingOfItIsWritten() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "1M", "cluster_size=4096");
        byte[] before = Files.readAllBytes(img);
        RecordingFileChannel channel = RecordingFileChannel.open(img);
        try (ImageFile f = ImageFile.over(PositionalFile.wrap(img, channel))) {
            MetadataGuard guard = new MetadataGuard(f, 12);
            guard.claim(Structure.L2, 0x10000, 4096);
            guard.claim(Structure.REFCOUNT_BLOCK, 0x11000, 4096);
            WriteBatch batch = guard.batch();
            batch.add(Structure.L2, 0x10000, 0x10000, ByteBuffer.allocate(4096));
            ImageException e = assertThrows(ImageException.class,
                    () -> batch.add(Structure.L2, 0x10000, 0x11000, ByteBuffer.allocate(4096)));
            assertTrue(e.getMessage().contains("would land on the refcount block at 0x11000"), e.getMessage());
        }
        assertTrue(writes(channel.log()).isEmpty(), channel.log().toString());
        assertArrayEquals(before, Files.readAllBytes(img));
    }

    /**
     * An image whose L2 tables lie side by side (zero writes allocate L2 tables and no data; the
     * data written after goes past them): a snapshot create clears COPIED in all 64 of them, and
     * they go out as one write. QEMU agrees on the result.
     */
    @Test
    void adjacentL2TablesOfOneStepAreOneWrite() throws IOException {
        Path img = Qemu.create(dir.resolve("a.qcow2"), "2M", "cluster_size=512");
        Qemu.io(img, "write -z 0 2M", "write -P 0x5a 0 2M");
        RecordingFileChannel channel = RecordingFileChannel.open(img);
        try (WritableImage w = WritableImage.over(PositionalFile.wrap(img, channel))) {
            w.create("s1");
        }
        List<Write> writes = writes(channel.log());
        long l2Writes = writes.stream().filter(wr -> wr.data().length == 64 * 512).count();
        assertEquals(1, l2Writes, "the 64 L2 tables in one write: " + writes);
        assertTrue(writes.size() < 64, "fewer writes than L2 tables changed: " + writes);
        assertTrue(Qemu.check(img).clean(), Qemu.checkText(img));
        assertArrayEquals(Qemu.snapshotBytes(img, "1", dir), Qemu.activeBytes(img, dir));
    }
}
