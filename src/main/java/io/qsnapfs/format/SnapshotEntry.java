package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;

/**
 * One entry of the snapshot table.
 *
 * <pre>
 * Byte layout (big-endian), entries packed one after another, each padded to a multiple of 8:
 *    0 -  7  l1_table_offset (the snapshot's own L1 table)
 *    8 - 11  l1_size (entries in that table)
 *   12 - 13  id_str_size
 *   14 - 15  name_size
 *   16 - 19  date_sec
 *   20 - 23  date_nsec
 *   24 - 31  vm_clock_nsec
 *   32 - 35  vm_state_size (32-bit; superseded by the extra data field when present)
 *   36 - 39  extra_data_size
 *   40 -     extra data:  0 - 7 vm_state_size_large, 8 - 15 disk_size, 16 - 23 icount,
 *            then any bytes later versions define (kept verbatim)
 *   then id_str (no NUL), then name (no NUL), then zero padding to a multiple of 8.
 * </pre>
 *
 * IDs and names are kept as bytes exactly as stored; they are compared and written back as bytes.
 */
public record SnapshotEntry(
        long l1TableOffset,
        int l1Size,
        byte[] id,
        byte[] name,
        long dateSec,
        long dateNsec,
        long vmClockNsec,
        long vmStateSize,
        long diskSize,
        long icount,
        byte[] extraData) {

    /** Fixed part of an entry, before the extra data. */
    public static final int FIXED_SIZE = 40;
    /** QEMU's limit on extra data per entry. */
    public static final int MAX_EXTRA_DATA = 1024;
    /** QEMU's limit on the whole table. */
    public static final long MAX_TABLE_BYTES = 64L << 20;
    /** Extra data holding vm_state_size_large and disk_size; v3 entries carry at least this. */
    public static final int EXTRA_V3_MIN = 16;
    /** Extra data including icount; what new entries carry. */
    public static final int EXTRA_WITH_ICOUNT = 24;
    /** Marks a disk size that the entry does not record (too little extra data). */
    public static final long UNKNOWN_DISK_SIZE = -1;

    public SnapshotEntry {
        id = id.clone();
        name = name.clone();
        extraData = extraData.clone();
    }

    @Override
    public byte[] id() {
        return id.clone();
    }

    @Override
    public byte[] name() {
        return name.clone();
    }

    /** The raw extra data as stored (its first 24 bytes mirror vmStateSize, diskSize, icount). */
    @Override
    public byte[] extraData() {
        return extraData.clone();
    }

    public String idString() {
        return new String(id, StandardCharsets.UTF_8);
    }

    public String nameString() {
        return new String(name, StandardCharsets.UTF_8);
    }

    public boolean hasId(byte[] other) {
        return Arrays.equals(id, other);
    }

    public boolean hasName(byte[] other) {
        return Arrays.equals(name, other);
    }

    /**
     * When the snapshot was taken: date_sec and date_nsec (a date_nsec of a second or more, which
     * QEMU never writes, counts as 0).
     */
    public Instant date() {
        return Instant.ofEpochSecond(dateSec, dateNsec < 1_000_000_000L ? dateNsec : 0);
    }

    public boolean hasDiskSize() {
        return diskSize != UNKNOWN_DISK_SIZE;
    }

    /**
     * This entry as QEMU writes every entry back: with at least the 24 bytes of extra data that hold
     * vm_state_size_large, disk_size and icount (a version 3 entry must have 16). An entry that
     * records no disk size gets {@code imageSize}, which is what QEMU takes it to be; one without an
     * icount gets -1 (unknown). Longer extra data is kept as it is.
     */
    public SnapshotEntry withFullExtraData(long imageSize) {
        if (extraData.length >= EXTRA_WITH_ICOUNT) {
            return this;
        }
        return new SnapshotEntry(l1TableOffset, l1Size, id, name, dateSec, dateNsec, vmClockNsec, vmStateSize,
                hasDiskSize() ? diskSize : imageSize, -1, new byte[EXTRA_WITH_ICOUNT]);
    }

    /** The length this entry takes in the table, padding included. */
    public int encodedLength() {
        int raw = FIXED_SIZE + extraData.length + id.length + name.length;
        return (raw + 7) & ~7;
    }

    /** The outcome of parsing one entry: the entry and where the next one starts. */
    public record Parsed(SnapshotEntry entry, int nextOffset) {
    }

    /**
     * Parses the entry at {@code offset} of {@code table}, which holds the bytes of the table read
     * so far.
     *
     * @param index the entry's index, for messages
     * @return the entry, or null when it does not fit in the bytes given: the caller decides
     *         whether to read more or to call the table truncated
     */
    public static Parsed parse(ByteBuffer table, int offset, int index) throws FormatException {
        ByteBuffer b = table.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (offset + FIXED_SIZE > b.limit()) {
            return null;
        }
        long l1TableOffset = b.getLong(offset);
        int l1Size = b.getInt(offset + 8);
        int idSize = b.getShort(offset + 12) & 0xffff;
        int nameSize = b.getShort(offset + 14) & 0xffff;
        long dateSec = Integer.toUnsignedLong(b.getInt(offset + 16));
        long dateNsec = Integer.toUnsignedLong(b.getInt(offset + 20));
        long vmClockNsec = b.getLong(offset + 24);
        long vmStateSize = Integer.toUnsignedLong(b.getInt(offset + 32));
        long extraSize = Integer.toUnsignedLong(b.getInt(offset + 36));
        if (extraSize > MAX_EXTRA_DATA) {
            throw FormatException.invalid("snapshot table entry " + index + " has " + extraSize
                    + " bytes of extra data, more than the limit of " + MAX_EXTRA_DATA);
        }
        long end = (long) offset + FIXED_SIZE + extraSize + idSize + nameSize;
        if (end > b.limit()) {
            return null;
        }
        byte[] extra = new byte[(int) extraSize];
        b.get(offset + FIXED_SIZE, extra);
        long diskSize = UNKNOWN_DISK_SIZE;
        long icount = -1;
        ByteBuffer e = ByteBuffer.wrap(extra).order(ByteOrder.BIG_ENDIAN);
        if (extraSize >= 8) {
            vmStateSize = e.getLong(0);
        }
        if (extraSize >= 16) {
            diskSize = e.getLong(8);
            if (diskSize < 0) {
                throw FormatException.invalid("snapshot table entry " + index + " has an invalid disk size "
                        + Long.toUnsignedString(diskSize));
            }
        }
        if (extraSize >= 24) {
            icount = e.getLong(16);
        }
        byte[] id = new byte[idSize];
        b.get(offset + FIXED_SIZE + (int) extraSize, id);
        byte[] name = new byte[nameSize];
        b.get(offset + FIXED_SIZE + (int) extraSize + idSize, name);
        int next = (int) ((end + 7) & ~7L);
        return new Parsed(new SnapshotEntry(l1TableOffset, l1Size, id, name, dateSec, dateNsec, vmClockNsec,
                vmStateSize, diskSize, icount, extra), next);
    }

    /** Appends the on-disk form of this entry, padded to a multiple of 8 bytes. */
    public void encode(ByteBuffer out) {
        ByteBuffer b = out.order(ByteOrder.BIG_ENDIAN);
        int start = b.position();
        byte[] extra = extraData.clone();
        ByteBuffer e = ByteBuffer.wrap(extra).order(ByteOrder.BIG_ENDIAN);
        if (extra.length >= 8) {
            e.putLong(0, vmStateSize);
        }
        if (extra.length >= 16) {
            e.putLong(8, diskSize);
        }
        if (extra.length >= 24) {
            e.putLong(16, icount);
        }
        b.putLong(l1TableOffset);
        b.putInt(l1Size);
        b.putShort((short) id.length);
        b.putShort((short) name.length);
        b.putInt((int) dateSec);
        b.putInt((int) dateNsec);
        b.putLong(vmClockNsec);
        b.putInt(vmStateSize > 0xffffffffL ? 0 : (int) vmStateSize);
        b.putInt(extra.length);
        b.put(extra);
        b.put(id);
        b.put(name);
        while ((b.position() - start) % 8 != 0) {
            b.put((byte) 0);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SnapshotEntry s && s.l1TableOffset == l1TableOffset && s.l1Size == l1Size
                && Arrays.equals(s.id, id) && Arrays.equals(s.name, name) && s.dateSec == dateSec
                && s.dateNsec == dateNsec && s.vmClockNsec == vmClockNsec && s.vmStateSize == vmStateSize
                && s.diskSize == diskSize && s.icount == icount && Arrays.equals(s.extraData, extraData);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(l1TableOffset) * 31 + Arrays.hashCode(id);
    }

    @Override
    public String toString() {
        return "SnapshotEntry[id=" + idString() + ", name=" + nameString() + ", l1=" + Hex.of(l1TableOffset)
                + "/" + Integer.toUnsignedString(l1Size) + ", diskSize=" + diskSize + "]";
    }
}
