package io.qsnapfs.fuse;

import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.mount.ImageCatalog;
import io.qsnapfs.mount.MountTree;
import io.qsnapfs.mount.QmpRoutes;
import io.qsnapfs.mount.RequestLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * A running mount, served by our own {@link RequestLoop} on a session that libfuse's
 * {@code fuse_setup} mounts; readiness is the file system answering a {@code stat} of the mount
 * point. A background thread keeps the catalog current and tells the kernel which cached names
 * went stale ({@link NameInvalidator}), so changes by other programs show without waiting for the
 * kernel's cache to expire.
 *
 * <p>Stopping ({@link #unmount()}, or SIGTERM/SIGINT through a shutdown hook) cannot hang: the
 * mount is detached first (a lazy unmount: pending and later requests end the workers' receives
 * once the last file is closed); files still open after a grace period have the connection
 * aborted through fusectl, so blocked readers get ENOTCONN and the workers end; only once every
 * worker has ended is the session torn down. After SIGKILL, {@code auto_unmount} makes fusermount
 * clean up.
 */
public final class FuseMount {
    /** The type the kernel shows for our mounts (fuse.SUBTYPE). */
    public static final String FS_TYPE = "fuse.qsnapfs";
    private static final long READY_TIMEOUT_MS = 15_000;
    /** How long open files may keep a detached mount alive before the connection is aborted. */
    private static final long GRACE_MS = 1_000;
    /** How long the workers may take to end after the abort before the session is left to exit. */
    private static final long ABORT_WAIT_MS = 5_000;
    private static final Path FUSECTL = Path.of("/sys/fs/fuse/connections");

    private final Path mountPoint;
    /**
     * The callbacks libfuse calls. jnr-ffi holds the Java side of a native callback only weakly:
     * unless something here keeps them reachable, a garbage collection leaves libfuse calling into
     * nothing ("callable is null").
     */
    private final QsnapFuse operations;
    private final LibFuseSession lib;
    private final Pointer fuse;
    private final Pointer mountPointString;
    private final RequestLoop loop;
    private final NameInvalidator names;
    private final ImageCatalog catalog;
    private final RequestLog log;
    private final Thread refresher;
    /** The mount's device number, which names its connection in fusectl. */
    private volatile long device;
    private boolean stopped;

    private FuseMount(Path mountPoint, QsnapFuse operations, LibFuseSession lib, Pointer fuse,
            Pointer mountPointString, RequestLoop loop, NameInvalidator names, ImageCatalog catalog, RequestLog log) {
        this.mountPoint = mountPoint;
        this.operations = operations;
        this.lib = lib;
        this.fuse = fuse;
        this.mountPointString = mountPointString;
        this.loop = loop;
        this.names = names;
        this.catalog = catalog;
        this.log = log;
        this.refresher = new Thread(this::refresh, "catalog-refresh");
        this.refresher.setDaemon(true);
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
     * Mounts and returns once the kernel answers on the mount point. A mount that fails says why,
     * with libfuse's and fusermount's own words.
     *
     * @param userOptions options for {@code -o}, passed through to libfuse
     * @param qmp         where control requests find the QMP monitor of a VM that holds an image
     */
    public static FuseMount start(Path imageDir, Path mountPoint, List<String> userOptions, boolean readOnly,
            QmpRoutes qmp, RequestLog log) throws MountException {
        Path dir = imageDir.toAbsolutePath().normalize();
        Path mp = mountPoint.toAbsolutePath().normalize();
        checkArguments(dir, mp);
        PositionalFile.enableSpliceDescriptors();
        ImageCatalog catalog = new ImageCatalog(dir, log);
        NameInvalidator names = new NameInvalidator();
        catalog.onStaleNames(names::stale);
        QsnapFuse ops = new QsnapFuse(new MountTree(catalog, log, readOnly, qmp), names);
        StringBuilder opts = new StringBuilder("fsname=qsnapfs,subtype=qsnapfs,default_permissions,auto_unmount,splice_write");
        for (String o : userOptions) {
            opts.append(',').append(o);
        }
        // -f: fuse_setup would fork otherwise
        String[] argv = {"qsnapfs", mp.toString(), "-f", "-o", opts.toString()};
        LibFuseSession lib;
        try {
            lib = LibFuseSession.load();
        } catch (UnsatisfiedLinkError e) {
            catalog.close();
            throw new MountException("cannot load libfuse.so.2 (" + e.getMessage() + "); run make setup", e);
        }
        jnr.ffi.Runtime runtime = jnr.ffi.Runtime.getRuntime(lib);
        Pointer mountPointOut = Memory.allocateDirect(runtime, 8, true);
        Pointer multithreaded = Memory.allocateDirect(runtime, 4, true);
        StderrCapture.Result<Pointer> setup;
        try {
            setup = StderrCapture.run(() -> lib.fuse_setup(argv.length, argv, ops.operations(), ops.operationsSize(),
                    mountPointOut, multithreaded, null));
        } catch (IOException e) {
            catalog.close();
            throw new MountException(mp + ": mount failed: " + e.getMessage(), e);
        }
        if (setup.value() == null) {
            catalog.close();
            throw new MountException(mp + ": mount failed: "
                    + (setup.text().isEmpty() ? "libfuse gave no reason" : setup.text().replace("\n", "; ")));
        }
        if (!setup.text().isEmpty()) {
            log.add("libfuse: " + setup.text().replace("\n", "; "));
        }
        Pointer fuse = setup.value();
        RequestLoop loop = new RequestLoop(lib, lib.fuse_get_session(fuse));
        names.attach(lib, loop.channel());
        FuseMount mount = new FuseMount(mp, ops, lib, fuse, mountPointOut.getPointer(0), loop, names, catalog,
                log);
        loop.start();
        Runtime.getRuntime().addShutdownHook(new Thread(mount::stopQuietly, "qsnapfs-unmount"));
        mount.awaitAnswer();
        mount.refresher.start();
        return mount;
    }

    /** Waits until a stat of the mount point is answered by this file system (INIT done). */
    private void awaitAnswer() throws MountException {
        java.util.concurrent.CompletableFuture<Long> dev = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return (Long) Files.getAttribute(mountPoint, "unix:dev");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try {
            device = dev.get(READY_TIMEOUT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            stopQuietly();
            throw new MountException(mountPoint + ": the file system did not come up within "
                    + READY_TIMEOUT_MS / 1000 + " s", e);
        }
    }

    /** Refreshes the catalog in the background and sends the stale names it finds. */
    private void refresh() {
        long interval = ImageCatalog.REFRESH_NANOS / 2;
        while (!Thread.currentThread().isInterrupted()) {
            try {
                catalog.refresh();
                names.deliver();
            } catch (RuntimeException e) {
                log.add("refresh of " + catalog.directory() + " failed: " + e);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(interval);
        }
    }

    public Path mountPoint() {
        return mountPoint;
    }

    /** Blocks until the file system is unmounted (by umount, fusermount -u, or a signal), then tears it down. */
    public void awaitUnmount() throws InterruptedException {
        loop.awaitWorkers();
        stopQuietly();
    }

    /** Unmounts, waits for the workers and tears the session down. */
    public void unmount() {
        stopQuietly();
    }

    private synchronized void stopQuietly() {
        if (stopped) {
            return;
        }
        stopped = true;
        refresher.interrupt();
        try {
            refresher.join(1_000); // before the catalog closes under it
            if (FS_TYPE.equals(MountTable.typeAt(mountPoint))) {
                detach(mountPoint);
            }
            if (!loop.awaitWorkers(GRACE_MS)) {
                abortConnection();
                if (!loop.awaitWorkers(ABORT_WAIT_MS)) {
                    log.add(mountPoint + ": " + loop.workerCount() + " workers did not end; leaving the connection "
                            + "to the kernel");
                    catalog.close();
                    return;
                }
            }
            lib.fuse_teardown(fuse, mountPointString);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.add(mountPoint + ": unmount: " + e);
        }
        catalog.close();
    }

    /** Lazy unmount: the mount point is free at once, open files keep the file system until closed. */
    private static void detach(Path mp) {
        try {
            Process p = new ProcessBuilder("fusermount", "-u", "-z", mp.toString()).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (IOException e) {
            // the abort below still ends the connection
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Ends the connection now: every pending and later request fails with ENOTCONN, and the workers'
     * receives return. fusectl names connections by the mount's device number; it is mounted here
     * when it is not yet (as root).
     */
    private void abortConnection() {
        long dev = device;
        long minor = (dev & 0xff) | ((dev >> 12) & ~0xffL);
        Path abort = FUSECTL.resolve(Long.toString(minor)).resolve("abort");
        try {
            if (!Files.exists(abort)) {
                new ProcessBuilder("mount", "-t", "fusectl", "fusectl", FUSECTL.toString())
                        .redirectErrorStream(true).start().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
            Files.writeString(abort, "1");
            log.add(mountPoint + ": connection aborted, files were still open");
        } catch (IOException e) {
            log.add(mountPoint + ": cannot abort the connection through " + abort + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
