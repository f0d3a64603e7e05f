package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.mount.Node.DirKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The file tree of a mount, independent of FUSE: resolves paths to nodes, lists directories,
 * gives attributes, opens files and takes requests. Every failure is an {@link ImageException}
 * whose kind the FUSE adapter turns into an errno.
 *
 * <pre>
 * /IMAGE/snapshots/NAME.raw   unique, safe snapshot names
 * /IMAGE/by-id/ID.raw         every snapshot
 * /IMAGE/vm-state/ID.vmstate  the VM state of every snapshot by-id/ID.raw that has one
 * /IMAGE/control/{create,delete,apply}/   request directories
 * /IMAGE/control/{create,delete,apply}/ARG   a request that just succeeded (empty, briefly)
 * /IMAGE/control/log          recent requests and events
 * </pre>
 *
 * <p>{@code vm-state/} is always there, empty when no snapshot has VM state (only snapshots a
 * running QEMU took with {@code savevm} have), so an image directory always holds the same names.
 * Its files are named by ID, as snapshot names need not be file names; each is read through the
 * snapshot's own tables like its disk ({@link SnapshotOpenFile}), and counts as an open file of
 * that snapshot for the requests.
 *
 * <p>Snapshot files carry the snapshot's facts as extended attributes ({@link SnapshotXattrs});
 * nothing else has any.
 *
 * <p>A request is made by creating a file in a request directory ({@link #create}, {@link #mknod}),
 * or by opening a name there for writing ({@code touch} of a name the kernel still knows from a
 * moment ago). It runs before the call returns. On success the name exists for a moment as an
 * empty 0644 file, so that {@code touch} can set its times and close it ({@link Receipts}); on
 * failure it does not exist, and the errno is the request's.
 */
public final class MountTree {
    private static final int O_ACCMODE = 3;
    private static final int O_RDONLY = 0;
    private static final int O_TRUNC = 01000;

    /** How often an open retries when the image's handle is replaced under it. */
    private static final int OPEN_ATTEMPTS = 3;

    private final ImageCatalog catalog;
    private final RequestLog log;
    private final boolean readOnly;
    private final long mountedSec = System.currentTimeMillis() / 1000;
    /** Identity of the snapshot last opened at each path, for the kernel's page cache. */
    private final Map<String, String> lastOpened = new ConcurrentHashMap<>();
    private final OpenSnapshots openSnapshots = new OpenSnapshots();
    private final Receipts receipts = new Receipts();
    private final ControlRequests requests;

    public MountTree(ImageCatalog catalog, RequestLog log, boolean readOnly) {
        this(catalog, log, readOnly, new QmpRoutes(null, QemuHandoff.DEFAULT_TIMEOUT));
    }

    /** The tree, with the requests on images a running VM holds handed to its QEMU as {@code qmp} says. */
    public MountTree(ImageCatalog catalog, RequestLog log, boolean readOnly, QmpRoutes qmp) {
        this.catalog = catalog;
        this.log = log;
        this.readOnly = readOnly;
        this.requests = new ControlRequests(catalog, log, openSnapshots, readOnly, qmp);
    }

    /** The requests, for tests that need to hold an image's request lock. */
    ControlRequests requests() {
        return requests;
    }

    public RequestLog log() {
        return log;
    }

    /** The directory the images are in. */
    public java.nio.file.Path imageDirectory() {
        return catalog.directory();
    }

    /** The node a path names; NOT_FOUND when there is none. */
    public Node resolve(String path) {
        return resolve(MountPath.parse(path));
    }

    private Node resolve(MountPath path) {
        if (path.depth() == 0) {
            return new Node.Root();
        }
        ImageHandle image = catalog.get(path.name(0));
        if (image == null) {
            throw notFound(path);
        }
        if (path.depth() == 1) {
            return new Node.ImageDir(image);
        }
        DirKind top = switch (path.name(1)) {
            case "snapshots" -> DirKind.SNAPSHOTS;
            case "by-id" -> DirKind.BY_ID;
            case "vm-state" -> DirKind.VM_STATE;
            case "control" -> DirKind.CONTROL;
            default -> throw notFound(path);
        };
        if (path.depth() == 2) {
            return new Node.Dir(image, top);
        }
        if (path.depth() == 3) {
            switch (top) {
                case SNAPSHOTS, BY_ID: {
                    Map<String, SnapshotEntry> files = top == DirKind.SNAPSHOTS ? image.byName() : image.byId();
                    SnapshotEntry s = files.get(path.name(2));
                    if (s == null) {
                        throw notFound(path);
                    }
                    return new Node.SnapshotFile(image, s);
                }
                case VM_STATE: {
                    SnapshotEntry s = image.vmStates().get(path.name(2));
                    if (s == null) {
                        throw notFound(path);
                    }
                    return new Node.VmStateFile(image, s);
                }
                default:
                    DirKind k = MountPath.requestKind(path.name(2));
                    if (k != null) {
                        return new Node.Dir(image, k);
                    }
                    if (path.name(2).equals("log")) {
                        return new Node.LogFile(image);
                    }
                    throw notFound(path);
            }
        }
        DirKind k = path.request();
        Receipts.Receipt r = k == null ? null : receipts.find(new Receipts.Key(image.name(), k, path.name(3)));
        if (r != null) {
            return new Node.RequestFile(image, k, path.name(3), r.madeSec());
        }
        throw notFound(path);
    }

    /** The names in a directory, without "." and "..". */
    public List<String> list(Node node) {
        if (node instanceof Node.Root) {
            return catalog.names();
        }
        if (node instanceof Node.ImageDir) {
            return List.of("snapshots", "by-id", "vm-state", "control");
        }
        if (node instanceof Node.Dir d) {
            return switch (d.kind()) {
                case SNAPSHOTS -> new ArrayList<>(d.image().byName().keySet());
                case BY_ID -> new ArrayList<>(d.image().byId().keySet());
                case VM_STATE -> new ArrayList<>(d.image().vmStates().keySet());
                case CONTROL -> List.of("create", "delete", "apply", "log");
                case CREATE, DELETE, APPLY -> receipts.names(d.image().name(), d.kind());
            };
        }
        throw new ImageException(ImageException.Kind.NOT_DIRECTORY, "not a directory");
    }

    public Attributes attributes(Node node) {
        if (node instanceof Node.ImageDir d) {
            return dir(0555, imageMtime(d.image()));
        }
        if (node instanceof Node.Dir d) {
            return dir(d.kind().isRequest() && !readOnly ? 0755 : 0555, imageMtime(d.image()));
        }
        if (node instanceof Node.SnapshotFile f) {
            return snapshotAttributes(f.image(), f.snapshot());
        }
        if (node instanceof Node.VmStateFile f) {
            return vmStateAttributes(f.snapshot());
        }
        if (node instanceof Node.RequestFile f) {
            return receiptAttributes(f.madeSec());
        }
        if (node instanceof Node.LogFile) {
            return logAttributes(log.text().length);
        }
        return dir(0555, mountedSec);
    }

    static Attributes snapshotAttributes(ImageHandle image, SnapshotEntry snapshot) {
        long size = image.image().snapshotDiskSize(snapshot);
        return new Attributes(false, 0444, size, (size + 511) / 512, snapshot.dateSec(), snapshot.dateNsec(), 1);
    }

    /** A VM state file: read-only, vm_state_size bytes, the snapshot's date. */
    static Attributes vmStateAttributes(SnapshotEntry snapshot) {
        long size = snapshot.vmStateSize();
        return new Attributes(false, 0444, size, (size + 511) / 512, snapshot.dateSec(), snapshot.dateNsec(), 1);
    }

    static Attributes receiptAttributes(long madeSec) {
        return new Attributes(false, 0644, 0, 0, madeSec, 0, 1);
    }

    static Attributes logAttributes(long size) {
        return new Attributes(false, 0444, size, (size + 511) / 512, System.currentTimeMillis() / 1000, 0, 1);
    }

    private static Attributes dir(int mode, long mtime) {
        return new Attributes(true, mode, 4096, 8, mtime, 0, 2);
    }

    private static long imageMtime(ImageHandle h) {
        return h.state.mtime().toMillis() / 1000;
    }

    /**
     * The names of the extended attributes of a node: a snapshot file's facts ({@link
     * SnapshotXattrs}); none elsewhere.
     */
    public List<String> xattrNames(Node node) {
        return node instanceof Node.SnapshotFile f ? SnapshotXattrs.names(f.snapshot()) : List.of();
    }

    /**
     * The value of extended attribute {@code name} of a node.
     *
     * @throws ImageException NO_ATTRIBUTE when the node has no such attribute (only snapshot files
     *         have any); what counting a snapshot's exclusive bytes may throw
     */
    public byte[] xattr(Node node, String name) {
        if (node instanceof Node.SnapshotFile f) {
            return SnapshotXattrs.value(f.image(), f.snapshot(), name);
        }
        throw SnapshotXattrs.none(name);
    }

    /**
     * Opens a file. Snapshot and VM state files and the log are for reading only (READ_ONLY for any
     * attempt to write); a name in a request directory opened for writing repeats its request.
     */
    public OpenFile open(String pathText, int flags) {
        MountPath path = MountPath.parse(pathText);
        boolean write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0;
        if (write && path.request() != null) {
            // whether or not the name still exists here: the kernel may remember it longer
            return new ReceiptOpenFile(request(requestKey(path)));
        }
        Node node = resolve(path);
        if (node.isDirectory()) {
            throw new ImageException(ImageException.Kind.IS_DIRECTORY, path + ": is a directory");
        }
        if (write) {
            throw readOnly(pathText);
        }
        if (node instanceof Node.RequestFile f) {
            Receipts.Receipt r = receipts.use(new Receipts.Key(f.image().name(), f.kind(), f.name()));
            if (r == null) {
                throw notFound(path);
            }
            return new ReceiptOpenFile(r);
        }
        if (node instanceof Node.LogFile) {
            return new LogOpenFile(log.text());
        }
        return openSnapshot(path, (Node.SnapshotData) node);
    }

    /**
     * Opens a snapshot or VM state file, counted in {@link OpenSnapshots} so that a request cannot
     * delete its snapshot while it is open. A request replaces the image's handle before it lifts
     * its fence, so a handle that is no longer current may name a snapshot that is gone: then the
     * path is resolved again.
     */
    private OpenFile openSnapshot(MountPath path, Node.SnapshotData node) {
        Node.SnapshotData f = node;
        for (int attempt = 1;; attempt++) {
            ImageHandle h = f.image();
            OpenSnapshots.Hold hold = openSnapshots.acquire(h.name(), f.snapshot().l1TableOffset(), path.toString());
            if (catalog.isCurrent(h) && h.retain()) {
                try {
                    BlockSource view = f instanceof Node.VmStateFile ? h.image().vmStateView(f.snapshot())
                            : h.image().snapshotView(f.snapshot());
                    String identity = h.state.inode() + ":" + f.snapshot().l1TableOffset() + ":"
                            + f.snapshot().idString() + ":" + f.snapshot().dateSec() + ":" + f.snapshot().dateNsec();
                    boolean keep = identity.equals(lastOpened.put(path.toString(), identity));
                    return new SnapshotOpenFile(catalog, h, f.snapshot(), hold, view, attributes(f), keep);
                } catch (RuntimeException e) {
                    h.release();
                    hold.close();
                    throw e;
                }
            }
            hold.close();
            if (attempt == OPEN_ATTEMPTS) {
                throw new ImageException(ImageException.Kind.BUSY, path + ": the image keeps changing");
            }
            if (!(resolve(path) instanceof Node.SnapshotData again)) {
                throw notFound(path);
            }
            f = again;
        }
    }

    /**
     * Creates a file: in a request directory, performs the request and returns the file it leaves
     * (empty); anywhere else READ_ONLY.
     */
    public OpenFile create(String path) {
        return new ReceiptOpenFile(request(requestKey(MountPath.parse(path))));
    }

    /** Like {@link #create} without opening; only regular files can be requests. */
    public void mknod(String path, boolean regularFile) {
        Receipts.Key key = requestKey(MountPath.parse(path));
        if (!regularFile) {
            throw readOnly(path);
        }
        request(key).close();
    }

    /** Sets a file's times: a no-op on a request's file (touch does it), READ_ONLY elsewhere. */
    public void changeTimes(String path) {
        if (!(resolve(path) instanceof Node.RequestFile)) {
            throw readOnly(path);
        }
    }

    /** Truncates: a request's file is empty and may be truncated to 0 ({@code : > NAME}); READ_ONLY elsewhere. */
    public void truncate(String path, long size) {
        if (!(resolve(path) instanceof Node.RequestFile) || size != 0) {
            throw readOnly(path);
        }
    }

    /** True for what may be written: request directories and their files, unless read-only. */
    public boolean writable(Node node) {
        return !readOnly && (node instanceof Node.RequestFile || node instanceof Node.Dir d && d.kind().isRequest());
    }

    /** Runs a request; on success the receipt, in use by the caller; on failure the name is gone. */
    private Receipts.Receipt request(Receipts.Key key) {
        try {
            requests.run(key.image(), key.kind(), key.name());
        } catch (RuntimeException e) {
            receipts.failed(key);
            throw e;
        }
        return receipts.made(key);
    }

    /** The request a new file at {@code path} makes; READ_ONLY outside the request directories. */
    private Receipts.Key requestKey(MountPath path) {
        DirKind kind = path.request();
        if (kind == null) {
            throw readOnly(path.toString());
        }
        if (catalog.get(path.name(0)) == null) {
            throw notFound(path);
        }
        return new Receipts.Key(path.name(0), kind, path.name(3));
    }

    /** Refused writes: the message for the log and EROFS for the caller. */
    public static ImageException readOnly(String path) {
        return new ImageException(ImageException.Kind.READ_ONLY, path + ": read-only");
    }

    private static ImageException notFound(MountPath path) {
        return new ImageException(ImageException.Kind.NOT_FOUND, path + ": no such file or directory");
    }
}
