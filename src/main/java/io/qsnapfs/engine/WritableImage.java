package io.qsnapfs.engine;

import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.io.ClusterFile;
import java.io.Closeable;
import java.nio.file.Path;
import java.util.List;

/**
 * A qcow2 image opened for the read-write snapshot operations: create, delete and apply
 * (QEMU's goto). STUB: the signatures are final, the bodies come next.
 */
public final class WritableImage implements Closeable {
    private WritableImage() {
    }

    /**
     * Opens {@code path} read-write and takes QEMU's OFD locks for a writer.
     *
     * @throws ImageException BUSY when another process (a running QEMU) holds the image; UNSUPPORTED
     *         or CORRUPT when the image must not be written (corrupt bit, unknown incompatible
     *         features, encryption, external data file, dirty lazy refcounts); IO, NOT_FOUND
     */
    public static WritableImage open(Path path) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Works on an already open file, taking no locks: for tests that record the writes (crash
     * replay). The file is closed by {@link #close()}.
     */
    public static WritableImage over(ClusterFile file) {
        throw new UnsupportedOperationException("not yet");
    }

    /** The snapshot table as it is now. */
    public List<SnapshotEntry> snapshots() {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Creates a disk-only snapshot named {@code name} (ID = largest numeric ID + 1, date now, VM
     * clock 0, icount -1).
     *
     * @return the new entry
     * @throws ImageException EXISTS when the name is taken; INVALID_ARGUMENT for a bad name, too
     *         many snapshots, or refcounts that cannot count one more reference (e.g. 1-bit);
     *         NO_SPACE; IO
     */
    public SnapshotEntry create(String name) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Deletes the snapshot with ID {@code idOrName}, else the one named so.
     *
     * @return the deleted entry
     * @throws ImageException NOT_FOUND; INVALID_ARGUMENT when the name is shared by several snapshots
     */
    public SnapshotEntry delete(String idOrName) {
        throw new UnsupportedOperationException("not yet");
    }

    /**
     * Reverts the active layer to the snapshot with ID {@code idOrName}, else the one named so; the
     * image's virtual size becomes the snapshot's disk size, as QEMU 7.2 does.
     *
     * @return the applied entry
     */
    public SnapshotEntry apply(String idOrName) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Releases the locks and closes the file. */
    @Override
    public void close() {
        throw new UnsupportedOperationException("not yet");
    }
}
