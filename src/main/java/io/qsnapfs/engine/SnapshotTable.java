package io.qsnapfs.engine;

import io.qsnapfs.format.FormatException;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.io.ClusterFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the snapshot table. The table's length is not stored anywhere: it is the sum of its
 * entries, so it is read in growing chunks, never more than the spec's 64 MiB limit and never
 * past the end of the file.
 */
final class SnapshotTable {
    private static final int CHUNK = 64 * 1024;

    private SnapshotTable() {
    }

    static List<SnapshotEntry> read(String name, ClusterFile file, QcowHeader header, long fileSize)
            throws IOException {
        int count = header.nbSnapshots();
        List<SnapshotEntry> entries = new ArrayList<>(Math.min(count, 1024));
        if (count == 0) {
            return entries;
        }
        long offset = header.snapshotsOffset();
        long limit = Math.min(SnapshotEntry.MAX_TABLE_BYTES, fileSize - offset);
        ByteBuffer table = ByteBuffer.allocate((int) Math.min(CHUNK, limit));
        file.readFully(offset, table);
        table.flip();
        int pos = 0;
        for (int i = 0; i < count; i++) {
            SnapshotEntry.Parsed parsed;
            try {
                while ((parsed = SnapshotEntry.parse(table, pos, i)) == null) {
                    if (table.limit() >= limit) {
                        throw ImageException.corrupt(name, "snapshot table at " + Hex.of(offset) + " (entry " + i
                                + " of " + count + ") runs past "
                                + (limit == SnapshotEntry.MAX_TABLE_BYTES ? "the 64 MiB limit" : "the end of the file"));
                    }
                    table = grow(file, offset, table, limit);
                }
            } catch (FormatException e) {
                throw QcowImage.fromFormat(name, e);
            }
            entries.add(parsed.entry());
            pos = parsed.nextOffset();
        }
        return entries;
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

    private static ByteBuffer grow(ClusterFile file, long offset, ByteBuffer table, long limit) throws IOException {
        int newSize = (int) Math.min(limit, (long) table.limit() * 2);
        ByteBuffer bigger = ByteBuffer.allocate(newSize);
        bigger.put(table.duplicate().position(0));
        file.readFully(offset + table.limit(), bigger);
        bigger.flip();
        return bigger;
    }
}
