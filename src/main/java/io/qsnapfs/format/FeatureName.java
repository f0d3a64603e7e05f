package io.qsnapfs.format;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One record of the feature name table header extension ({@link HeaderExtension#FEATURE_NAME_TABLE}),
 * which gives feature bits names that a reader can show for a bit it does not know.
 *
 * <pre>
 * The extension's data is a sequence of 48-byte records:
 *   0       type: 0 incompatible, 1 compatible, 2 autoclear ({@link QcowHeader#FEATURE_INCOMPATIBLE}...)
 *   1       bit number within that field (0..63)
 *   2 - 47  feature name, UTF-8, padded with zeros (not terminated when it takes all 46 bytes)
 * </pre>
 *
 * @param kind the feature field: {@link QcowHeader#FEATURE_INCOMPATIBLE}, {@link
 *             QcowHeader#FEATURE_COMPATIBLE} or {@link QcowHeader#FEATURE_AUTOCLEAR}
 * @param bit  the bit within that field, 0..63
 * @param name the name, at most {@link #MAX_NAME_BYTES} bytes of UTF-8
 */
public record FeatureName(int kind, int bit, String name) {
    /** Bytes of one record. */
    public static final int RECORD_BYTES = 48;
    /** Bytes of the name field. */
    public static final int MAX_NAME_BYTES = RECORD_BYTES - 2;

    public FeatureName {
        if (kind < QcowHeader.FEATURE_INCOMPATIBLE || kind > QcowHeader.FEATURE_AUTOCLEAR) {
            throw new IllegalArgumentException("feature type " + kind + " is not 0, 1 or 2");
        }
        if (bit < 0 || bit > 63) {
            throw new IllegalArgumentException("feature bit " + bit + " is outside 0..63");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("feature name '" + name + "' is longer than " + MAX_NAME_BYTES
                    + " bytes");
        }
    }

    /** The data of a feature name table extension holding {@code names}, one record each. */
    public static byte[] table(List<FeatureName> names) {
        ByteBuffer out = ByteBuffer.allocate(names.size() * RECORD_BYTES);
        for (FeatureName n : names) {
            int start = out.position();
            out.put((byte) n.kind).put((byte) n.bit).put(n.name.getBytes(StandardCharsets.UTF_8));
            out.position(start + RECORD_BYTES);
        }
        return out.array();
    }

    /**
     * The name the table data {@code table} gives bit {@code bit} of feature field {@code kind}, or
     * null; a trailing partial record is ignored.
     */
    public static String find(byte[] table, int kind, int bit) {
        for (int i = 0; i + RECORD_BYTES <= table.length; i += RECORD_BYTES) {
            if (table[i] == kind && (table[i + 1] & 0xff) == bit) {
                int end = i + 2;
                while (end < i + RECORD_BYTES && table[end] != 0) {
                    end++;
                }
                return new String(table, i + 2, end - i - 2, StandardCharsets.UTF_8);
            }
        }
        return null;
    }
}
