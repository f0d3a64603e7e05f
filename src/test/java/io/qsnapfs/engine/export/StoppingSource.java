package io.qsnapfs.engine.export;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.ExtentSink;
import java.io.IOException;

/**
 * A disk that stops an export midway: it passes translations through to a real disk up to guest
 * offset {@code stopAt}, then throws an {@link IOException} (as a failing source
 * disk would) or, with {@code halt}, ends the JVM at once without running anything more (as a
 * killed process or a crash would).
 */
final class StoppingSource implements BlockSource {
    private final BlockSource disk;
    private final long stopAt;
    private final boolean halt;

    StoppingSource(BlockSource disk, long stopAt, boolean halt) {
        this.disk = disk;
        this.stopAt = stopAt;
        this.halt = halt;
    }

    @Override
    public long size() {
        return disk.size();
    }

    @Override
    public String describe() {
        return disk.describe();
    }

    @Override
    public void map(long offset, long length, ExtentSink sink) throws IOException {
        if (offset + length > stopAt) {
            if (offset < stopAt) {
                disk.map(offset, stopAt - offset, sink);
            }
            if (halt) {
                Runtime.getRuntime().halt(0);
            }
            throw new IOException(disk.describe() + ": read error at guest offset " + stopAt);
        }
        disk.map(offset, length, sink);
    }
}
