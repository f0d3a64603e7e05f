package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One header extension, kept verbatim so that a rewrite of the header can carry it over.
 *
 * <pre>
 * Byte layout (big-endian), starting at header_length (v3) or byte 72 (v2), repeated until type 0:
 *   0 -  3  type
 *   4 -  7  length of the data, in bytes
 *   8 -  n  data, padded with zeros to a multiple of 8 bytes
 * </pre>
 *
 * @param type   the extension type (see the constants)
 * @param offset the byte offset of the extension's type field in the image file
 * @param data   the extension's data, without padding
 */
public record HeaderExtension(int type, long offset, byte[] data) {
    /** Marks the end of the extension area. */
    public static final int END = 0x00000000;
    /** Data: the backing file's format name, e.g. "qcow2" or "raw". */
    public static final int BACKING_FORMAT = 0xe2792aca;
    /** Data: 48-byte records (type, bit number, 46-byte name) naming feature bits ({@link FeatureName}). */
    public static final int FEATURE_NAME_TABLE = 0x6803f857;
    /** Data: persistent dirty bitmaps directory. */
    public static final int BITMAPS = 0x23852875;
    /** Data: full disk encryption header pointer. */
    public static final int FULL_DISK_ENCRYPTION = 0x0537be77;
    /** Data: the external data file's name. */
    public static final int EXTERNAL_DATA_FILE = 0x44415441;

    public HeaderExtension {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** The data read as a string, up to the first NUL byte, like QEMU does for names. */
    public String dataAsString() {
        int end = 0;
        while (end < data.length && data[end] != 0) {
            end++;
        }
        return new String(data, 0, end, StandardCharsets.UTF_8);
    }

    /** The length this extension takes on disk, header and padding included. */
    public int encodedLength() {
        return 8 + ((data.length + 7) & ~7);
    }

    /** Appends the on-disk form of this extension to {@code out}. */
    public void encode(ByteBuffer out) {
        out.putInt(type);
        out.putInt(data.length);
        out.put(data);
        for (int i = data.length; i < ((data.length + 7) & ~7); i++) {
            out.put((byte) 0);
        }
    }

    public String typeName() {
        return switch (type) {
            case BACKING_FORMAT -> "backing format";
            case FEATURE_NAME_TABLE -> "feature name table";
            case BITMAPS -> "bitmaps";
            case FULL_DISK_ENCRYPTION -> "full disk encryption";
            case EXTERNAL_DATA_FILE -> "external data file";
            default -> "unknown (" + Hex.of(type & 0xffffffffL) + ")";
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeaderExtension e && e.type == type && e.offset == offset && Arrays.equals(e.data, data);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * type + Long.hashCode(offset)) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "HeaderExtension[" + typeName() + ", " + data.length + " bytes at " + Hex.of(offset) + "]";
    }
}
