package io.qsnapfs.format;

/** Formats offsets the way messages show them: {@code 0x1f0000}. */
public final class Hex {
    private Hex() {
    }

    public static String of(long value) {
        return "0x" + Long.toHexString(value);
    }
}
