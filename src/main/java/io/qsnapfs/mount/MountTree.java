package io.qsnapfs.mount;

import io.qsnapfs.engine.BlockSource;
import io.qsnapfs.engine.ExtentSink;
import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.mount.Node.DirKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The file tree of a mount, independent of FUSE: resolves paths to nodes, lists directories,
 * gives attributes and opens files. Every failure is an {@link ImageException} whose kind the
 * FUSE adapter turns into an errno.
 *
 * <pre>
 * /IMAGE/snapshots/NAME.raw   unique, safe snapshot names
 * /IMAGE/by-id/ID.raw         every snapshot
 * /IMAGE/control/{create,delete,apply}/   request directories
 * /IMAGE/control/log          recent requests and events
 * </pre>
 */
public final class MountTree {
    private static final int O_ACCMODE = 3;
    private static final int O_RDONLY = 0;
    private static final int O_TRUNC = 01000;

    private final ImageCatalog catalog;
    private final RequestLog log;
    private final boolean readOnly;
    private final long mountedSec = System.currentTimeMillis() / 1000;
    /** Identity of the snapshot last opened at each path, for the kernel's page cache. */
    private final Map<String, String> lastOpened = new ConcurrentHashMap<>();

    public MountTree(ImageCatalog catalog, RequestLog log, boolean readOnly) {
        this.catalog = catalog;
        this.log = log;
        this.readOnly = readOnly;
    }

    public RequestLog log() {
        return log;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** The node a path names; NOT_FOUND when there is none. */
    public Node resolve(String path) {
        String[] parts = split(path);
        if (parts.length == 0) {
            return new Node.Root();
        }
        ImageHandle image = catalog.get(parts[0]);
        if (image == null) {
            throw notFound(path);
        }
        if (parts.length == 1) {
            return new Node.ImageDir(image);
        }
        DirKind top = switch (parts[1]) {
            case "snapshots" -> DirKind.SNAPSHOTS;
            case "by-id" -> DirKind.BY_ID;
            case "control" -> DirKind.CONTROL;
            default -> throw notFound(path);
        };
        if (parts.length == 2) {
            return new Node.Dir(image, top);
        }
        if (parts.length == 3) {
            switch (top) {
                case SNAPSHOTS, BY_ID: {
                    Map<String, SnapshotEntry> files = top == DirKind.SNAPSHOTS ? image.byName() : image.byId();
                    SnapshotEntry s = files.get(parts[2]);
                    if (s == null) {
                        throw notFound(path);
                    }
                    return new Node.SnapshotFile(image, s);
                }
                default:
                    for (DirKind k : List.of(DirKind.CREATE, DirKind.DELETE, DirKind.APPLY)) {
                        if (k.fileName().equals(parts[2])) {
                            return new Node.Dir(image, k);
                        }
                    }
                    if (parts[2].equals("log")) {
                        return new Node.LogFile(image);
                    }
                    throw notFound(path);
            }
        }
        throw notFound(path);
    }

    /** The names in a directory, without "." and "..". */
    public List<String> list(Node node) {
        if (node instanceof Node.Root) {
            return catalog.names();
        }
        if (node instanceof Node.ImageDir) {
            return List.of("snapshots", "by-id", "control");
        }
        if (node instanceof Node.Dir d) {
            return switch (d.kind()) {
                case SNAPSHOTS -> new ArrayList<>(d.image().byName().keySet());
                case BY_ID -> new ArrayList<>(d.image().byId().keySet());
                case CONTROL -> List.of("create", "delete", "apply", "log");
                case CREATE, DELETE, APPLY -> List.of();
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
            long size = f.image().image().snapshotDiskSize(f.snapshot());
            return new Attributes(false, 0444, size, (size + 511) / 512, f.snapshot().dateSec(),
                    f.snapshot().dateNsec(), 1);
        }
        if (node instanceof Node.LogFile) {
            long size = log.text().length;
            return new Attributes(false, 0444, size, (size + 511) / 512, System.currentTimeMillis() / 1000, 0, 1);
        }
        return dir(0555, mountedSec);
    }

    private static Attributes dir(int mode, long mtime) {
        return new Attributes(true, mode, 4096, 8, mtime, 0, 2);
    }

    private static long imageMtime(ImageHandle h) {
        return h.state.mtime().toMillis() / 1000;
    }

    /** Opens a file for reading; READ_ONLY for any attempt to write. */
    public OpenFile open(String path, int flags) {
        Node node = resolve(path);
        if (node.isDirectory()) {
            throw new ImageException(ImageException.Kind.IS_DIRECTORY, path + ": is a directory");
        }
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) {
            throw readOnly(path);
        }
        if (node instanceof Node.LogFile) {
            return new LogOpenFile(log.text());
        }
        Node.SnapshotFile f = (Node.SnapshotFile) node;
        ImageHandle h = f.image();
        if (!h.retain()) {
            throw notFound(path);
        }
        try {
            BlockSource view = h.image().snapshotView(f.snapshot());
            String identity = h.state.inode() + ":" + f.snapshot().l1TableOffset() + ":" + f.snapshot().idString()
                    + ":" + f.snapshot().dateSec() + ":" + f.snapshot().dateNsec();
            boolean keep = identity.equals(lastOpened.put(path, identity));
            return new SnapshotOpenFile(h, view, keep);
        } catch (RuntimeException e) {
            h.release();
            throw e;
        }
    }

    /** Refused writes: the message for the log and EROFS for the caller. */
    public static ImageException readOnly(String path) {
        return new ImageException(ImageException.Kind.READ_ONLY, path + ": read-only");
    }

    private static ImageException notFound(String path) {
        return new ImageException(ImageException.Kind.NOT_FOUND, path + ": no such file or directory");
    }

    private static String[] split(String path) {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        if (p.isEmpty()) {
            return new String[0];
        }
        return p.split("/");
    }

    private static final class SnapshotOpenFile implements OpenFile {
        private final ImageHandle handle;
        private final BlockSource view;
        private final boolean keepCache;

        SnapshotOpenFile(ImageHandle handle, BlockSource view, boolean keepCache) {
            this.handle = handle;
            this.view = view;
            this.keepCache = keepCache;
        }

        @Override
        public int read(long offset, ByteBuffer dst) throws IOException {
            return view.read(offset, dst);
        }

        @Override
        public int map(long offset, int length, ExtentSink sink) throws IOException {
            if (offset >= view.size()) {
                return 0;
            }
            int n = (int) Math.min(length, view.size() - offset);
            view.map(offset, n, sink);
            return n;
        }

        @Override
        public boolean keepCache() {
            return keepCache;
        }

        @Override
        public boolean directIo() {
            return false;
        }

        @Override
        public void close() {
            handle.release();
        }
    }

    private static final class LogOpenFile implements OpenFile {
        private final byte[] text;

        LogOpenFile(byte[] text) {
            this.text = text;
        }

        @Override
        public int read(long offset, ByteBuffer dst) {
            if (offset >= text.length) {
                return 0;
            }
            int n = (int) Math.min(dst.remaining(), text.length - offset);
            dst.put(text, (int) offset, n);
            return n;
        }

        @Override
        public int map(long offset, int length, ExtentSink sink) throws IOException {
            if (offset >= text.length) {
                return 0;
            }
            int n = (int) Math.min(length, text.length - offset);
            sink.bytes(ByteBuffer.wrap(text, (int) offset, n));
            return n;
        }

        @Override
        public boolean keepCache() {
            return false;
        }

        @Override
        public boolean directIo() {
            return true;
        }

        @Override
        public void close() {
        }
    }
}
