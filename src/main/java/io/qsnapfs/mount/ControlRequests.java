package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.engine.write.WritableImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.format.SnapshotLookup;
import io.qsnapfs.mount.Node.DirKind;
import java.nio.file.Path;
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
 *
 * <p>When a running VM holds the image, a create or delete goes to its QEMU over QMP ({@link
 * QemuHandoff}, monitors found as {@link QmpRoutes} says) and the log adds {@code by QEMU pid P};
 * an apply is refused (EBUSY).
 */
final class ControlRequests {
    private final ImageCatalog catalog;
    private final RequestLog log;
    private final OpenSnapshots openSnapshots;
    private final boolean readOnly;
    private final QmpRoutes qmp;
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

    ControlRequests(ImageCatalog catalog, RequestLog log, OpenSnapshots openSnapshots, boolean readOnly, QmpRoutes qmp) {
        this.catalog = catalog;
        this.log = log;
        this.openSnapshots = openSnapshots;
        this.readOnly = readOnly;
        this.qmp = qmp;
    }

    /**
     * Runs one request and logs it; returns the snapshot created, deleted or applied.
     *
     * @throws RequestFailure with the kind that decides the errno
     */
    SnapshotEntry run(String image, DirKind kind, String argument) {
        String what = kind.fileName() + " " + LogText.escape(image) + " " + LogText.quote(argument);
        try {
            QemuHandoff.Done done = perform(image, kind, argument);
            log.add(what + ": ok, id " + LogText.escape(done.snapshot().idString())
                    + (done.by() != null ? ", by " + done.by() : ""));
            return done.snapshot();
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

    /** What the request did; who did it ({@code by}) is null when we did. */
    private QemuHandoff.Done perform(String image, DirKind kind, String argument) {
        if (readOnly) {
            throw new ImageException(ImageException.Kind.READ_ONLY, image + ": the mount is read-only");
        }
        if (kind == DirKind.CREATE) {
            checkName(image, argument);
        }
        ReentrantLock lock = lockOf(image);
        lock.lock();
        try {
            Path path = catalog.directory().resolve(image);
            WritableImage w;
            try {
                w = WritableImage.open(path);
            } catch (ImageException e) {
                if (!QemuHandoff.heldByAnother(e)) {
                    throw e;
                }
                return handOff(image, path, kind, argument, e);
            }
            OpenSnapshots.Hold fence = null;
            try {
                try (w) {
                    switch (kind) {
                        case CREATE:
                            return new QemuHandoff.Done(w.create(argument), null);
                        case DELETE:
                            fence = deleteFence(image, w.snapshots(), argument);
                            return new QemuHandoff.Done(w.delete(argument), null);
                        case APPLY:
                            fence = openSnapshots.fenceImage(image, image);
                            return new QemuHandoff.Done(w.apply(argument), null);
                        default:
                            throw new IllegalArgumentException(kind + " is not a request");
                    }
                }
            } finally {
                finish(image, fence);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A create or delete of an image a running VM holds, done by its QEMU; the same fence as our
     * own delete keeps an open snapshot file from losing its snapshot. An apply is refused.
     */
    private QemuHandoff.Done handOff(String image, Path path, DirKind kind, String argument, ImageException busy) {
        if (kind == DirKind.APPLY) {
            throw QemuHandoff.applyRefusal(path, busy);
        }
        OpenSnapshots.Hold fence = null;
        try {
            if (kind == DirKind.DELETE) { // before QEMU is reached: an open file refuses at once
                fence = deleteFence(image, QemuHandoff.snapshotsOf(path), argument);
            }
            try (QemuHandoff qemu = QemuHandoff.reach(path, qmp.socketFor(image), qmp.timeout(), busy)) {
                return kind == DirKind.CREATE ? qemu.create(argument) : qemu.delete(argument);
            }
        } finally {
            finish(image, fence);
        }
    }

    /**
     * After a request, done or not: the image reopened, so readers that resolved the old handle
     * notice it is no longer current; only then may they open what the fence (if any) kept closed.
     */
    private void finish(String image, OpenSnapshots.Hold fence) {
        catalog.reopen(image);
        if (fence != null) {
            fence.close();
        }
    }

    /**
     * The fence of a delete of {@code idOrName}: it holds, by their L1 table offsets, the snapshots
     * the delete may remove: the one with that ID, else every one with that name (the engine
     * refuses a shared name, but fencing them all costs nothing).
     */
    private OpenSnapshots.Hold deleteFence(String image, List<SnapshotEntry> snapshots, String idOrName) {
        Set<Long> offsets = new HashSet<>();
        for (SnapshotEntry s : SnapshotLookup.matches(snapshots, idOrName)) {
            offsets.add(s.l1TableOffset());
        }
        return openSnapshots.fence(image, offsets, image + ": snapshot '" + idOrName + "'");
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
