package io.qsnapfs.cli;

import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Overwrites fields of an image in place, to give it values that QEMU's tools cannot produce: VM
 * state sizes, guest clocks and odd names in snapshot entries (same-length changes only, so the
 * table keeps its layout and QEMU still reads it), header feature bits, extra header extensions.
 */
final class ImagePoker {
    private final Path image;
    private final List<Long> offsets = new ArrayList<>();
    private final List<SnapshotEntry> entries;

    ImagePoker(Path image) {
        this.image = image;
        try (QcowImage img = QcowImage.open(image)) {
            entries = img.snapshots();
            long at = img.header().snapshotsOffset();
            for (SnapshotEntry e : entries) {
                offsets.add(at);
                at += e.encodedLength();
            }
        }
    }

    /** vm_state_size: the 32-bit field (0 when it does not fit) and the 64-bit extra data field. */
    ImagePoker vmStateSize(int index, long value) {
        putInt(index, 32, Long.compareUnsigned(value, 0xffffffffL) > 0 ? 0 : (int) value);
        return putLong(index, SnapshotEntry.FIXED_SIZE, value);
    }

    ImagePoker vmClockNsec(int index, long value) {
        return putLong(index, 24, value);
    }

    ImagePoker dateSec(int index, long value) {
        return putInt(index, 16, (int) value);
    }

    ImagePoker icount(int index, long value) {
        return putLong(index, SnapshotEntry.FIXED_SIZE + 16, value);
    }

    /** Replaces the name with bytes of the same length. */
    ImagePoker name(int index, byte[] name) {
        SnapshotEntry e = entries.get(index);
        if (name.length != e.name().length) {
            throw new IllegalArgumentException("name must stay " + e.name().length + " bytes long");
        }
        return put(index, SnapshotEntry.FIXED_SIZE + e.extraData().length + e.id().length, ByteBuffer.wrap(name));
    }

    /** Sets or clears bits of the header's incompatible features (bytes 72-79). */
    static void incompatibleFeatures(Path image, long value) {
        write(image, 72, ByteBuffer.allocate(8).putLong(0, value));
    }

    /** Writes {@code data} into the image file at {@code offset}. */
    static void write(Path image, long offset, ByteBuffer data) {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            while (data.hasRemaining()) {
                offset += ch.write(data, offset);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private ImagePoker putLong(int index, int field, long value) {
        return put(index, field, ByteBuffer.allocate(8).putLong(0, value));
    }

    private ImagePoker putInt(int index, int field, int value) {
        return put(index, field, ByteBuffer.allocate(4).putInt(0, value));
    }

    private ImagePoker put(int index, int field, ByteBuffer data) {
        write(image, offsets.get(index) + field, data);
        return this;
    }

    /**
     * Puts a header extension of type {@code type} in front of the image's other extensions. The
     * image must have no backing file (its name would sit in the way).
     */
    static void addHeaderExtension(Path image, int type, byte[] data) {
        try (QcowImage img = QcowImage.open(image)) {
            QcowHeader h = img.header();
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
            write(image, h.headerLength(), area);
        }
    }
}
