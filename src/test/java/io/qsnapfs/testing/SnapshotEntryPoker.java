package io.qsnapfs.testing;

import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Overwrites fields of an image in place, to give it values that QEMU's tools cannot produce: VM
 * state sizes, guest clocks, dates, icounts and odd names in snapshot entries (same-length changes,
 * so the table keeps its layout and QEMU still reads it), extra data cut short as older QEMU wrote
 * it (the table moved up in place), header feature bits, extra header extensions. Entries are
 * found with {@link TableWalk}; the bytes are written with {@link Poke}.
 */
public final class SnapshotEntryPoker {
    private final Path image;
    private final TableWalk walk;

    private SnapshotEntryPoker(Path image) {
        this.image = image;
        this.walk = TableWalk.of(image);
    }

    /** A poker for the snapshot entries of {@code image}. */
    public static SnapshotEntryPoker of(Path image) {
        return new SnapshotEntryPoker(image);
    }

    /** vm_state_size: the 32-bit field (0 when it does not fit) and the 64-bit extra data field. */
    public SnapshotEntryPoker vmStateSize(int index, long value) {
        Poke.u32(image, field(index, 32), Long.compareUnsigned(value, 0xffffffffL) > 0 ? 0 : value);
        Poke.u64(image, field(index, SnapshotEntry.FIXED_SIZE), value);
        return this;
    }

    public SnapshotEntryPoker vmClockNsec(int index, long value) {
        Poke.u64(image, field(index, 24), value);
        return this;
    }

    public SnapshotEntryPoker dateSec(int index, long value) {
        Poke.u32(image, field(index, 16), value);
        return this;
    }

    public SnapshotEntryPoker icount(int index, long value) {
        Poke.u64(image, field(index, SnapshotEntry.FIXED_SIZE + 16), value);
        return this;
    }

    /** Replaces the name with bytes of the same length. */
    public SnapshotEntryPoker name(int index, byte[] name) {
        SnapshotEntry e = walk.snapshotEntry(index);
        if (name.length != e.name().length) {
            throw new IllegalArgumentException("name must stay " + e.name().length + " bytes long");
        }
        Poke.bytes(image, field(index, SnapshotEntry.FIXED_SIZE + e.extraData().length + e.id().length), name);
        return this;
    }

    /**
     * Cuts the extra data of entry {@code index} to its first {@code keep} bytes, as older QEMU
     * versions wrote entries: that entry and the ones after it are written back in place, moved up
     * behind it, each padded to 8 bytes with zeros, and the bytes the shorter table no longer
     * covers (up to the old table's end or the file's, whichever comes first) are zeroed.
     */
    public SnapshotEntryPoker shortenExtraData(int index, int keep) {
        int count = walk.header().nbSnapshots();
        long start = walk.snapshotEntryOffset(index);
        long end = Math.min(walk.snapshotEntryOffset(count), walk.fileSize());
        ByteBuffer out = ByteBuffer.allocate((int) (walk.snapshotEntryOffset(count) - start));
        for (int i = index; i < count; i++) {
            byte[] entry = Poke.readBytes(image, walk.snapshotEntryOffset(i), walk.snapshotEntryLength(i));
            if (i == index) {
                int extra = ByteBuffer.wrap(entry).getInt(36);
                if (keep < 0 || keep > extra) {
                    throw new IllegalArgumentException("entry " + index + " has " + extra
                            + " bytes of extra data, cannot keep " + keep);
                }
                ByteBuffer.wrap(entry).putInt(36, keep);
                int idAndName = entry.length - SnapshotEntry.FIXED_SIZE - extra;
                out.put(entry, 0, SnapshotEntry.FIXED_SIZE + keep).put(entry, entry.length - idAndName, idAndName);
            } else {
                out.put(entry);
            }
            out.position((out.position() + 7) & ~7);
        }
        Poke.bytes(image, start, Arrays.copyOf(out.array(), (int) (end - start)));
        return this;
    }

    private long field(int index, int offsetInEntry) {
        return walk.snapshotEntryOffset(index) + offsetInEntry;
    }

    /** Sets the header's incompatible features (bytes 72-79). */
    public static void incompatibleFeatures(Path image, long value) {
        Poke.u64(image, 72, value);
    }

    /**
     * Puts a header extension of type {@code type} in front of the image's other extensions. The
     * image must have no backing file (its name would sit in the way).
     */
    public static void addHeaderExtension(Path image, int type, byte[] data) {
        QcowHeader h = TableWalk.of(image).header();
        if (h.backingFileName() != null) {
            throw new IllegalArgumentException("image has a backing file");
        }
        List<HeaderExtension> all = new ArrayList<>();
        all.add(new HeaderExtension(type, 0, data));
        all.addAll(h.extensions());
        ByteBuffer area = ByteBuffer.allocate(4096);
        for (HeaderExtension e : all) {
            e.encode(area);
        }
        area.putLong(0); // end of the extension area
        area.flip();
        Poke.bytes(image, h.headerLength(), Arrays.copyOf(area.array(), area.limit()));
    }
}
