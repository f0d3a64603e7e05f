package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Persistent dirty bitmaps: the bitmaps header extension, the bitmap directory it points to, and
 * the entries of each bitmap's table. Only what the refcount layer needs is decoded: where the
 * directory, the tables and the data clusters lie. The extension is meaningful only while
 * autoclear bit 0 is set; QEMU ignores it otherwise (and then its clusters are leaks).
 *
 * <pre>
 * Bitmaps header extension data (type 0x23852875, exactly 24 bytes, big-endian):
 *    0 -  3  nb_bitmaps (1..65535)
 *    4 -  7  reserved, zero
 *    8 - 15  bitmap_directory_size (bytes)
 *   16 - 23  bitmap_directory_offset (cluster aligned)
 *
 * Bitmap directory entry (big-endian; entries packed, each padded to a multiple of 8 bytes):
 *    0 -  7  bitmap_table_offset (cluster aligned)
 *    8 - 11  bitmap_table_size (entries)
 *   12 - 15  flags (bit 0 in_use, bit 1 auto, bit 2 extra_data_compatible)
 *   16       type (1 = dirty tracking bitmap)
 *   17       granularity_bits
 *   18 - 19  name_size
 *   20 - 23  extra_data_size
 *   24 -     extra data, then the name (no NUL), then zero padding
 *
 * Bitmap table entry (big-endian 64-bit):
 *   bit  0       with offset 0: 1 = the cluster reads as all ones, 0 = all zeros;
 *                with a non-zero offset: reserved, must be zero
 *   bits 1 - 8   reserved, zero
 *   bits 9 - 55  offset of the bitmap data cluster (cluster aligned; 0 = not allocated)
 *   bits 56 - 63 reserved, zero
 * </pre>
 *
 * @param nbBitmaps       nb_bitmaps from the extension
 * @param directorySize   bitmap_directory_size
 * @param directoryOffset bitmap_directory_offset
 */
public record BitmapDirectory(long nbBitmaps, long directorySize, long directoryOffset) {
    /** Length of the extension's data. */
    public static final int EXTENSION_LENGTH = 24;
    /** QEMU's limit on the number of bitmaps. */
    public static final long MAX_BITMAPS = 65535;
    /** QEMU's limit on the directory: 1 KiB per bitmap. */
    public static final long MAX_DIRECTORY_SIZE = 1024 * MAX_BITMAPS;
    /** QEMU's limit on the entries of one bitmap table. */
    public static final long MAX_TABLE_ENTRIES = 0x8000000L;
    /** QEMU's limit on a bitmap name. */
    public static final int MAX_NAME_SIZE = 1023;
    /** Fixed part of a directory entry. */
    public static final int ENTRY_HEADER_SIZE = 24;
    /** Flags QEMU understands (in_use, auto); others are reserved to it. */
    public static final int KNOWN_FLAGS = 0x3;
    public static final int TYPE_DIRTY_TRACKING = 1;

    /** Offset bits of a bitmap table entry. */
    public static final long TABLE_OFFSET_MASK = 0x00fffffffffffe00L;
    /** Reserved bits of a bitmap table entry (bit 0 is checked separately). */
    public static final long TABLE_RESERVED_MASK = 0xff000000000001feL;
    /** Bit 0 of a bitmap table entry: an unallocated cluster reads as all ones. */
    public static final long TABLE_ALL_ONES = 1L;

    /** One bitmap as the directory describes it. */
    public record Entry(long tableOffset, long tableSize, int flags, int type, int granularityBits,
            String name, int extraDataSize) {
    }

    /**
     * Decodes the extension's data and checks it the way QEMU does when it opens an image.
     *
     * @param clusterSize for the alignment check
     */
    public static BitmapDirectory parseExtension(byte[] data, long clusterSize) throws FormatException {
        if (data.length != EXTENSION_LENGTH) {
            throw FormatException.invalid("bitmaps extension has " + data.length + " bytes, not " + EXTENSION_LENGTH);
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.BIG_ENDIAN);
        long nb = Integer.toUnsignedLong(b.getInt(0));
        int reserved = b.getInt(4);
        long size = b.getLong(8);
        long offset = b.getLong(16);
        if (reserved != 0) {
            throw FormatException.invalid("bitmaps extension has non-zero reserved bytes");
        }
        if (nb == 0 || nb > MAX_BITMAPS) {
            throw FormatException.invalid("bitmaps extension names " + nb + " bitmaps (valid: 1.." + MAX_BITMAPS + ")");
        }
        if (Long.compareUnsigned(size, MAX_DIRECTORY_SIZE) > 0 || size == 0) {
            throw FormatException.invalid("bitmap directory size " + Long.toUnsignedString(size)
                    + " is zero or exceeds " + MAX_DIRECTORY_SIZE);
        }
        if (offset <= 0 || (offset & (clusterSize - 1)) != 0) {
            throw FormatException.invalid("bitmap directory offset " + Hex.of(offset) + " is not cluster aligned");
        }
        return new BitmapDirectory(nb, size, offset);
    }

    /**
     * Parses the directory's bytes (exactly {@link #directorySize} of them) into its entries,
     * checking the structure and each entry's constraints.
     */
    public List<Entry> parseEntries(byte[] dir, long clusterSize) throws FormatException {
        ByteBuffer b = ByteBuffer.wrap(dir).order(ByteOrder.BIG_ENDIAN);
        List<Entry> entries = new ArrayList<>();
        int pos = 0;
        while (pos < dir.length) {
            if (pos + ENTRY_HEADER_SIZE > dir.length) {
                throw FormatException.invalid("bitmap directory entry at byte " + pos + " is truncated");
            }
            long tableOffset = b.getLong(pos);
            long tableSize = Integer.toUnsignedLong(b.getInt(pos + 8));
            int flags = b.getInt(pos + 12);
            int type = b.get(pos + 16) & 0xff;
            int granularity = b.get(pos + 17) & 0xff;
            int nameSize = b.getShort(pos + 18) & 0xffff;
            long extra = Integer.toUnsignedLong(b.getInt(pos + 20));
            long end = pos + ENTRY_HEADER_SIZE + extra + nameSize;
            long padded = (end + 7) & ~7L;
            if (padded > dir.length) {
                throw FormatException.invalid("bitmap directory entry at byte " + pos + " runs past the directory");
            }
            if (entries.size() >= nbBitmaps) {
                throw FormatException.invalid("bitmap directory holds more entries than the " + nbBitmaps
                        + " the header extension names");
            }
            String name = new String(dir, (int) (pos + ENTRY_HEADER_SIZE + extra), nameSize,
                    java.nio.charset.StandardCharsets.UTF_8);
            if (tableSize == 0 || tableSize > MAX_TABLE_ENTRIES || tableOffset <= 0
                    || (tableOffset & (clusterSize - 1)) != 0 || granularity < 9 || granularity > 31
                    || (flags & ~KNOWN_FLAGS) != 0 || nameSize == 0 || nameSize > MAX_NAME_SIZE
                    || type != TYPE_DIRTY_TRACKING) {
                throw FormatException.invalid("bitmap '" + name + "' has an invalid directory entry (table "
                        + Hex.of(tableOffset) + "/" + tableSize + " entries, flags " + Hex.of(flags & 0xffffffffL)
                        + ", type " + type + ", granularity bits " + granularity + ")");
            }
            entries.add(new Entry(tableOffset, tableSize, flags, type, granularity, name, (int) extra));
            pos = (int) padded;
        }
        if (entries.size() != nbBitmaps) {
            throw FormatException.invalid("bitmap directory holds " + entries.size() + " entries, the header extension "
                    + nbBitmaps);
        }
        return entries;
    }

    /** True when a bitmap table entry breaks the rules (reserved bits, misaligned offset). */
    public static boolean invalidTableEntry(long entry, long clusterSize) {
        if ((entry & TABLE_RESERVED_MASK) != 0) {
            return true;
        }
        long offset = entry & TABLE_OFFSET_MASK;
        return offset != 0 && ((entry & TABLE_ALL_ONES) != 0 || (offset & (clusterSize - 1)) != 0);
    }
}
