package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.WritableImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.format.SnapshotLookup;
import io.qsnapfs.mount.Node.DirKind;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Performs the requests of the control directory: create, delete or apply a snapshot of one image
 * with the write engine, synchronously. Requests on one image run one at a time (a lock per
 * image); nothing catalog-wide is held meanwhile, so other images' requests and every read go on.
 * After a request the image is reopened in the catalog at once, so the snapshot files show the
 * change immediately. Every request, refused or not, gets one line in the log: operation, image,
 * argument, and {@code ok, id N} or the errno name and the reason.
 */
final class ControlRequests {
    private final ImageCatalog catalog;
    private final RequestLog log;
    private final OpenSnapshots openSnapshots;
    private final boolean readOnly;
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

    ControlRequests(ImageCatalog catalog, RequestLog log, OpenSnapshots openSnapshots, boolean readOnly) {
        this.catalog = catalog;
        this.log = log;
        this.openSnapshots = openSnapshots;
        this.readOnly = readOnly;
    }

    /**
     * Runs one request and logs it; returns the snapshot created, deleted or applied.
     *
     * @throws RequestFailure with the kind that decides the errno
     */
    SnapshotEntry run(String image, DirKind kind, String argument) {
        String what = kind.fileName() + " " + LogText.escape(image) + " " + LogText.quote(argument);
        try {
            SnapshotEntry done = perform(image, kind, argument);
            log.add(what + ": ok, id " + LogText.escape(done.idString()));
            return done;
        } catch (ImageException e) {
            log.add(what + ": " + ErrnoName.of(e.kind()) + ": " + LogText.escape(e.getMessage()));
            throw new RequestFailure(e.kind(), e.getMessage(), e);
        } catch (RuntimeException e) {
            String reason = e.getMessage() != null ? e.getMessage() : e.toString();
            log.add(what + ": EIO: " + LogText.escape(reason));
            throw new RequestFailure(ImageException.Kind.IO, reason, e);
        }
    }

    /** The lock that serializes the requests on one image. */
    ReentrantLock lockOf(String image) {
        return locks.computeIfAbsent(image, k -> new ReentrantLock());
    }

    private SnapshotEntry perform(String image, DirKind kind, String argument) {
        if (readOnly) {
            throw new ImageException(ImageException.Kind.READ_ONLY, image + ": the mount is read-only");
        }
        if (kind == DirKind.CREATE) {
            checkName(image, argument);
        }
        ReentrantLock lock = lockOf(image);
        lock.lock();
        try {
            WritableImage w = WritableImage.open(catalog.directory().resolve(image));
            OpenSnapshots.Hold fence = null;
            try {
                try (w) {
                    switch (kind) {
                        case CREATE:
                            return w.create(argument);
                        case DELETE:
                            fence = openSnapshots.fence(image, targets(w.snapshots(), argument),
                                    image + ": snapshot '" + argument + "'");
                            return w.delete(argument);
                        case APPLY:
                            fence = openSnapshots.fenceImage(image, image);
                            return w.apply(argument);
                        default:
                            throw new IllegalArgumentException(kind + " is not a request");
                    }
                }
            } finally {
                // Readers that resolved the old handle notice it is no longer current; only then
                // may they open what the fence kept closed.
                catalog.reopen(image);
                if (fence != null) {
                    fence.close();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The snapshots a delete of {@code idOrName} may remove, by their L1 table offsets: the one with
     * that ID, else every one with that name (the engine refuses a shared name, but fencing them all
     * costs nothing).
     */
    private static Set<Long> targets(List<SnapshotEntry> snapshots, String idOrName) {
        Set<Long> offsets = new HashSet<>();
        for (SnapshotEntry s : SnapshotLookup.matches(snapshots, idOrName)) {
            offsets.add(s.l1TableOffset());
        }
        return offsets;
    }

    /**
     * A new snapshot's name must be usable as {@code NAME.raw} under {@code snapshots/}: one safe
     * file name of at most 255 bytes, and valid UTF-8 (a name that was not arrives with U+FFFD in
     * place of its bad bytes).
     */
    static void checkName(String image, String name) {
        if (name.indexOf('\uFFFD') >= 0) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT,
                    image + ": snapshot name " + LogText.quote(name) + " is not valid UTF-8");
        }
        if (!SnapshotNames.isValidRequestName(name)) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, image + ": snapshot name "
                    + LogText.quote(name) + " cannot be a file name (NAME" + SnapshotNames.SUFFIX
                    + " must be one path component of at most 255 bytes)");
        }
    }
}
