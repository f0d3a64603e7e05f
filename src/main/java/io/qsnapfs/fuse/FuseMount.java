package io.qsnapfs.fuse;

import io.qsnapfs.io.ClusterFile;
import io.qsnapfs.mount.ImageCatalog;
import io.qsnapfs.mount.MountTree;
import io.qsnapfs.mount.RequestLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A running mount. jnr-fuse's own non-blocking mode only waits two seconds and assumes success,
 * so libfuse runs here in blocking mode on a thread of ours, and readiness is the mount point
 * appearing in /proc/self/mountinfo. jnr-fuse's shutdown hook unmounts on SIGTERM and SIGINT;
 * {@code auto_unmount} makes fusermount clean up after SIGKILL.
 */
public final class FuseMount {
    /** The type the kernel shows for our mounts (fuse.SUBTYPE). */
    public static final String FS_TYPE = "fuse.qsnapfs";
    private static final long READY_TIMEOUT_MS = 15_000;

    private final Path mountPoint;
    private final QsnapFuse fuse;
    private final ImageCatalog catalog;
    private final Thread thread;

    private FuseMount(Path mountPoint, QsnapFuse fuse, ImageCatalog catalog, Thread thread) {
        this.mountPoint = mountPoint;
        this.fuse = fuse;
        this.catalog = catalog;
        this.thread = thread;
    }

    /** Checks what can be checked before touching FUSE, so that failures read clearly. */
    public static void checkArguments(Path imageDir, Path mountPoint) throws MountException {
        if (!Files.isDirectory(imageDir)) {
            throw new MountException(imageDir + ": image directory does not exist or is not a directory");
        }
        if (!Files.isReadable(imageDir) || !Files.isExecutable(imageDir)) {
            throw new MountException(imageDir + ": image directory is not readable");
        }
        if (!Files.isDirectory(mountPoint)) {
            throw new MountException(mountPoint + ": mount point does not exist or is not a directory");
        }
        String type = MountTable.typeAt(mountPoint);
        if (type != null) {
            throw new MountException(mountPoint + ": mount point is busy (already mounted as " + type + ")");
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            throw new MountException("/dev/fuse is missing: FUSE is not available on this machine");
        }
    }

    /**
     * Mounts and returns once the kernel answers on the mount point.
     *
     * @param userOptions options for {@code -o}, passed through to libfuse
     */
    public static FuseMount start(Path imageDir, Path mountPoint, List<String> userOptions, boolean readOnly,
            boolean singleThreaded, RequestLog log) throws MountException {
        Path dir = imageDir.toAbsolutePath().normalize();
        Path mp = mountPoint.toAbsolutePath().normalize();
        checkArguments(dir, mp);
        ClusterFile.enableSpliceDescriptors();
        ImageCatalog catalog = new ImageCatalog(dir, log);
        QsnapFuse fuse = new QsnapFuse(new MountTree(catalog, log, readOnly));
        List<String> args = new ArrayList<>();
        if (singleThreaded) {
            args.add("-s");
        }
        StringBuilder opts = new StringBuilder("fsname=qsnapfs,subtype=qsnapfs,default_permissions,auto_unmount,splice_write");
        for (String o : userOptions) {
            opts.append(',').append(o);
        }
        args.add("-o");
        args.add(opts.toString());
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                fuse.mount(mp, true, false, args.toArray(new String[0]));
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "fuse-main");
        t.start();
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (!FS_TYPE.equals(MountTable.typeAt(mp))) {
            if (!t.isAlive()) {
                catalog.close();
                Throwable e = failure.get();
                throw new MountException(mp + ": mount failed" + (e == null ? "" : ": " + e.getMessage()), e);
            }
            if (System.currentTimeMillis() > deadline) {
                fuse.umount();
                catalog.close();
                throw new MountException(mp + ": the file system did not come up within "
                        + READY_TIMEOUT_MS / 1000 + " s");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new MountException("interrupted while mounting");
            }
        }
        return new FuseMount(mp, fuse, catalog, t);
    }

    public Path mountPoint() {
        return mountPoint;
    }

    /** Blocks until the file system is unmounted (by umount, fusermount -u, or a signal). */
    public void awaitUnmount() throws InterruptedException {
        thread.join();
        catalog.close();
    }

    /** Unmounts and waits for libfuse to finish. */
    public void unmount() throws InterruptedException {
        fuse.umount();
        thread.join(10_000);
        catalog.close();
    }

    /** Unmounts a qsnapfs mount from outside the process that serves it. */
    public static void unmount(Path mountPoint) throws MountException {
        Path mp = mountPoint.toAbsolutePath().normalize();
        String type = MountTable.typeAt(mp);
        if (type == null) {
            throw new MountException(mp + ": not mounted");
        }
        if (!FS_TYPE.equals(type)) {
            throw new MountException(mp + ": not a qsnapfs mount (" + type + ")");
        }
        try {
            Process p = new ProcessBuilder("fusermount", "-u", mp.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() != 0) {
                throw new MountException(mp + ": unmount failed: " + out);
            }
        } catch (IOException e) {
            throw new MountException("cannot run fusermount (" + e.getMessage() + "); run make setup", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException("interrupted while unmounting");
        }
    }
}
