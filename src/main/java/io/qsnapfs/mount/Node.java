package io.qsnapfs.mount;

import io.qsnapfs.format.SnapshotEntry;

/** What a path in the mount names. */
public sealed interface Node {
    /** The mount point itself: one directory per image. */
    record Root() implements Node {
    }

    /** {@code /IMAGE}: holds snapshots/, by-id/, vm-state/ and control/. */
    record ImageDir(ImageHandle image) implements Node {
    }

    /** One of the fixed directories inside an image directory. */
    record Dir(ImageHandle image, DirKind kind) implements Node {
    }

    /** A file of a snapshot's bytes, read through the image: its disk, or its VM state. */
    sealed interface SnapshotData extends Node permits SnapshotFile, VmStateFile {
        ImageHandle image();

        SnapshotEntry snapshot();
    }

    /** A snapshot as a raw file, under snapshots/ or by-id/. */
    record SnapshotFile(ImageHandle image, SnapshotEntry snapshot) implements SnapshotData {
    }

    /** The VM state a snapshot saved, as a file under vm-state/. */
    record VmStateFile(ImageHandle image, SnapshotEntry snapshot) implements SnapshotData {
    }

    /**
     * A name in a request directory whose request just succeeded: an empty file that lets
     * {@code touch} finish (see {@link Receipts}).
     */
    record RequestFile(ImageHandle image, DirKind kind, String name, long madeSec) implements Node {
    }

    /** {@code control/log}. */
    record LogFile(ImageHandle image) implements Node {
    }

    /** The fixed directories, with their path names. */
    enum DirKind {
        SNAPSHOTS("snapshots"), BY_ID("by-id"), VM_STATE("vm-state"), CONTROL("control"),
        CREATE("create"), DELETE("delete"), APPLY("apply");

        final String fileName;

        DirKind(String fileName) {
            this.fileName = fileName;
        }

        public String fileName() {
            return fileName;
        }

        /** True for the request directories under control/. */
        public boolean isRequest() {
            return this == CREATE || this == DELETE || this == APPLY;
        }
    }

    default boolean isDirectory() {
        return !(this instanceof SnapshotData || this instanceof LogFile || this instanceof RequestFile);
    }
}
