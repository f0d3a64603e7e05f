package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.ExtentSink;
import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * An open snapshot file: the snapshot's disk, or its VM state, the same reading over another
 * {@link BlockSource} of the snapshot's own tables. The mount takes no lock on the image (a VM
 * must be able to start), so another program, {@code qemu-img snapshot -d} or a VM's own snapshot
 * commands, may delete the snapshot while it is open here; its clusters are then free for other
 * data. Reads therefore look again, at most every {@link #RECHECK_NANOS}, whether the catalog's
 * current state of the image still holds this very snapshot, and fail with EIO from the moment
 * it does not. That bounds the time in which freed clusters could be served to the catalog's
 * refresh interval plus the recheck interval; only a lock could close it. The kernel's page cache
 * may still answer from pages read before, which hold the snapshot's true contents.
 */
final class SnapshotOpenFile implements OpenFile {
    /** How often reads ask the catalog again whether the snapshot still exists. */
    static final long RECHECK_NANOS = 100_000_000L;

    private final ImageCatalog catalog;
    private final ImageHandle handle;
    private final SnapshotEntry snapshot;
    private final OpenSnapshots.Hold hold;
    private final BlockSource view;
    private final Attributes attributes;
    private final boolean keepCache;
    private volatile long checkedNanos = System.nanoTime();
    /** Why reads fail, once the snapshot is known to be gone; null while it is there. */
    private volatile String gone;

    SnapshotOpenFile(ImageCatalog catalog, ImageHandle handle, SnapshotEntry snapshot, OpenSnapshots.Hold hold,
            BlockSource view, Attributes attributes, boolean keepCache) {
        this.catalog = catalog;
        this.handle = handle;
        this.snapshot = snapshot;
        this.hold = hold;
        this.view = view;
        this.attributes = attributes;
        this.keepCache = keepCache;
    }

    @Override
    public int read(long offset, ByteBuffer dst) throws IOException {
        checkStillThere();
        return view.read(offset, dst);
    }

    @Override
    public int map(long offset, int length, ExtentSink sink) throws IOException {
        checkStillThere();
        if (offset >= view.size()) {
            return 0;
        }
        int n = (int) Math.min(length, view.size() - offset);
        view.map(offset, n, sink);
        return n;
    }

    private void checkStillThere() {
        long now = System.nanoTime();
        if (gone == null && now - checkedNanos >= RECHECK_NANOS) {
            checkedNanos = now;
            gone = whyGone(catalog.get(handle.name()));
        }
        if (gone != null) {
            throw new ImageException(ImageException.Kind.IO, gone);
        }
    }

    /** Null while reading on is safe; otherwise why it is not. */
    private String whyGone(ImageHandle current) {
        if (current == handle || current != null && current.image().snapshots().contains(snapshot)) {
            return null;
        }
        Object inode;
        try {
            inode = FileState.of(catalog.directory().resolve(handle.name())).inode();
        } catch (IOException e) {
            return null; // removed from the directory: the file held open here cannot change any more
        }
        if (!inode.equals(handle.state.inode())) {
            return null; // replaced by another file: the one held open here is unchanged
        }
        String what = handle.name() + ": snapshot '" + snapshot.nameString() + "' (ID " + snapshot.idString() + ")";
        if (current == null) {
            return what + " cannot be read any more, the image can no longer be served (see the log);"
                    + " close the file";
        }
        return what + " was deleted by another program while this file was open, and its clusters may hold"
                + " other data now; close the file";
    }

    @Override
    public boolean keepCache() {
        return keepCache;
    }

    @Override
    public Attributes attributes() {
        return attributes;
    }

    @Override
    public boolean directIo() {
        return false;
    }

    @Override
    public void close() {
        handle.release();
        hold.close();
    }
}
