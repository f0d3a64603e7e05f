package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** Reads all an image holds through the engine, for tests that only care that it reads or how it fails. */
final class ReadAll {
    private ReadAll() {
    }

    /** Opens the image and reads every snapshot, every VM state and the active layer to the end, in {@code chunk}-byte reads. */
    static void image(Path image, int chunk) throws IOException {
        try (QcowImage img = QcowImage.open(image)) {
            for (SnapshotEntry s : img.snapshots()) {
                source(img.snapshotView(s), chunk);
                source(img.vmStateView(s), chunk);
            }
            source(img.activeView(), chunk);
        }
    }

    /** Reads {@code source} to its end in {@code chunk}-byte reads; a read that returns nothing before the end fails. */
    static void source(BlockSource source, int chunk) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        long pos = 0;
        while (pos < source.size()) {
            buf.clear();
            int n = source.read(pos, buf);
            if (n <= 0) {
                fail(source.describe() + ": read at " + pos + " of " + source.size() + " returned " + n);
            }
            pos += n;
        }
    }
}
