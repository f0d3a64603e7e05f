package io.qsnapfs.mount;

import io.qsnapfs.engine.read.ExtentSink;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A file opened through the mount: a snapshot, the request log or a request's receipt. */
public interface OpenFile {
    /** Fills {@code dst} from {@code offset}; returns the bytes read, 0 at the end. */
    int read(long offset, ByteBuffer dst) throws IOException;

    /**
     * Describes the bytes from {@code offset} as extents instead of copying them, so that FUSE can
     * splice data straight from the image file. Returns how many bytes were described (fewer than
     * {@code length} at the end of the file, 0 past it).
     */
    int map(long offset, int length, ExtentSink sink) throws IOException;

    /**
     * True when the kernel may keep the pages it has cached for this path: the file is the same
     * snapshot it was at the previous open of the path. Not for the files the mount makes up.
     */
    default boolean keepCache() {
        return false;
    }

    /**
     * True when the kernel must not cache at all: content that changes, like the log, which is
     * what the files the mount makes up are. Snapshot files are cached.
     */
    default boolean directIo() {
        return true;
    }

    /**
     * What {@code fstat} of the open file shows: the same as {@code stat} of its path showed when it
     * was opened, also once the name is gone.
     */
    Attributes attributes();

    /** Lets go of the image; called once, on release. */
    void close();
}
