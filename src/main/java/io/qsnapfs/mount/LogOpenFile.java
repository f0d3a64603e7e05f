package io.qsnapfs.mount;

import io.qsnapfs.engine.read.ExtentSink;
import java.io.IOException;
import java.nio.ByteBuffer;

/** {@code control/log} as it was when opened: the log changes, an open copy does not. */
final class LogOpenFile implements OpenFile {
    private final byte[] text;

    LogOpenFile(byte[] text) {
        this.text = text;
    }

    @Override
    public Attributes attributes() {
        return MountTree.logAttributes(text.length);
    }

    @Override
    public int read(long offset, ByteBuffer dst) {
        if (offset >= text.length) {
            return 0;
        }
        int n = (int) Math.min(dst.remaining(), text.length - offset);
        dst.put(text, (int) offset, n);
        return n;
    }

    @Override
    public int map(long offset, int length, ExtentSink sink) throws IOException {
        if (offset >= text.length) {
            return 0;
        }
        int n = (int) Math.min(length, text.length - offset);
        sink.bytes(ByteBuffer.wrap(text, (int) offset, n));
        return n;
    }

    @Override
    public void close() {
    }
}
