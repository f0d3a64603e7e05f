package io.qsnapfs.engine.read;

import io.qsnapfs.io.PositionalFile;
import java.io.IOException;

/** A raw disk image file (used as a backing file): guest offset = file offset. */
final class RawSource implements BlockSource {
    private final PositionalFile file;
    private final long size;

    RawSource(PositionalFile file, long size) {
        this.file = file;
        this.size = size;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String describe() {
        return file.name();
    }

    @Override
    public void map(long offset, long length, ExtentSink sink) throws IOException {
        sink.data(file, offset, length);
    }
}
