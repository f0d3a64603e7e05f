package io.qsnapfs.engine.read;

import java.io.IOException;

/** A window {@code [start, start + length)} of another source, seen as a disk of its own. */
final class SliceSource implements BlockSource {
    private final BlockSource inner;
    private final long start;
    private final long length;
    private final String description;

    SliceSource(BlockSource inner, long start, long length, String description) {
        this.inner = inner;
        this.start = start;
        this.length = length;
        this.description = description;
    }

    @Override
    public long size() {
        return length;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void map(long offset, long n, ExtentSink sink) throws IOException {
        inner.map(start + offset, n, sink);
    }
}
