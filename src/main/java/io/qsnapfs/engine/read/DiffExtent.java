package io.qsnapfs.engine.read;

/**
 * A guest range that may hold different bytes in two disks, FROM and TO: {@code length} bytes
 * from guest offset {@code start}. {@code zero} says TO reads zeros throughout the range.
 */
public record DiffExtent(long start, long length, boolean zero) {
    public DiffExtent {
        if (start < 0 || length <= 0 || start > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException("invalid extent " + start + "+" + length);
        }
    }

    /** The guest offset just past the range. */
    public long end() {
        return start + length;
    }
}
