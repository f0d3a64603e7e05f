package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.SnapshotEntry;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The snapshot table as the writer makes it: the entries one after another, each padded to 8 bytes
 * ({@link SnapshotEntry} documents an entry's layout). Reading it is {@link ImageFile#readSnapshotTable}.
 */
final class SnapshotTable {
    private SnapshotTable() {
    }

    /**
     * The on-disk form of a whole table: the entries one after another, each padded to a multiple
     * of 8 bytes, each with at least the 24 bytes of extra data QEMU writes
     * ({@link SnapshotEntry#withFullExtraData}; {@code imageSize} for an entry that records no disk
     * size).
     *
     * @throws ImageException NO_SPACE when the table would exceed the spec's 64 MiB
     */
    static ByteBuffer encode(String name, List<SnapshotEntry> stored, long imageSize) {
        List<SnapshotEntry> entries = new java.util.ArrayList<>(stored.size());
        for (SnapshotEntry e : stored) {
            entries.add(e.withFullExtraData(imageSize));
        }
        long length = length(entries);
        if (length > SnapshotEntry.MAX_TABLE_BYTES) {
            throw new ImageException(ImageException.Kind.NO_SPACE, name + ": the snapshot table would take "
                    + length + " bytes, more than the 64 MiB qcow2 allows");
        }
        ByteBuffer table = ByteBuffer.allocate((int) length);
        for (SnapshotEntry e : entries) {
            e.encode(table);
        }
        return table.flip();
    }

    /** The bytes {@code entries} take on disk, padding included. */
    static long length(List<SnapshotEntry> entries) {
        long length = 0;
        for (SnapshotEntry e : entries) {
            length += e.encodedLength();
        }
        return length;
    }
}
