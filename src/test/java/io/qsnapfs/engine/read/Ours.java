package io.qsnapfs.engine.read;

import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Disk;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * The engine as the testing layer sees it: a {@link BlockSource} as a {@link Disk}, and an image
 * opened with {@link QcowImage} as a {@link Disk.Image}, for the {@link Oracle} to compare with QEMU.
 * The one place that ties the testing layer to the engine's read API.
 */
final class Ours {
    private Ours() {
    }

    /** {@code source} as a {@link Disk}. */
    static Disk disk(BlockSource source) {
        return new Disk() {
            @Override
            public long size() {
                return source.size();
            }

            @Override
            public int read(long offset, ByteBuffer dst) throws IOException {
                return source.read(offset, dst);
            }

            @Override
            public String toString() {
                return source.describe();
            }
        };
    }

    /** Opens {@code image} with {@link QcowImage#open}; for {@link Oracle#assertImageMatchesQemu}. */
    static Disk.Image open(Path image) {
        QcowImage qi = QcowImage.open(image);
        return new Disk.Image() {
            @Override
            public List<Qemu.Listed> snapshots() {
                return qi.snapshots().stream().map(s -> new Qemu.Listed(s.idString(), s.nameString())).toList();
            }

            @Override
            public Disk snapshot(int index) {
                SnapshotEntry s = qi.snapshots().get(index);
                return disk(qi.snapshotView(s));
            }

            @Override
            public Disk active() {
                return disk(qi.activeView());
            }

            @Override
            public void close() {
                qi.close();
            }
        };
    }
}
