package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.fuse.FuseMount;
import io.qsnapfs.fuse.MountException;
import io.qsnapfs.fuse.MountTable;
import io.qsnapfs.mount.RequestLog;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs mount IMAGE_DIR MOUNTPOINT}: serves the directory over FUSE. In the foreground
 * ({@code -f}) this process serves and logs to stderr. Otherwise it starts a server process of its
 * own (in a new session, so it outlives the shell), waits until the kernel answers on the mount
 * point, and exits 0; if the server fails first, its message is shown and the exit status is 1.
 * That is also what mount(8) expects of a helper: {@code mount -t fuse.qsnapfs} and fstab lines
 * reach this command through mount.fuse as {@code qsnapfs IMAGE_DIR MOUNTPOINT -o OPTIONS}
 * ({@link MountHelperCall}), with the options read by {@link MountOptions}.
 *
 * <p>The background server logs to {@code --log-file}, by default a file in /tmp; started by
 * systemd (stderr is the journal, {@link JournalStream}) it logs to the journal instead.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Serve the snapshots of the qcow2 images in IMAGE_DIR as read-only raw files.",
            "Every snapshot appears as MOUNTPOINT/<image>/snapshots/<name>.raw and by-id/<id>.raw, "
                + "the VM state of a snapshot taken with savevm as vm-state/<id>.vmstate; "
                + "MOUNTPOINT/<image>/control/ takes requests (touch create/NAME, delete/ID_OR_NAME, apply/ID_OR_NAME), "
                + "and control/log lists them, images that were skipped and read errors. A create or delete on the image "
                + "of a running VM is done by its QEMU, over QMP.",
            "Returns once the file system answers; the server it started serves until unmounted (qsnapfs umount, "
                + "umount)."},
        footerHeading = "%nMounting with mount(8) and /etc/fstab%n",
        footer = {"  mount -t fuse.qsnapfs IMAGE_DIR MOUNTPOINT -o allow_other,ro",
            "  mount MOUNTPOINT       (with this line in /etc/fstab:)",
            "  IMAGE_DIR MOUNTPOINT fuse.qsnapfs allow_other,nofail,_netdev 0 0",
            "",
            "mount.fuse runs 'qsnapfs IMAGE_DIR MOUNTPOINT -o OPTIONS', which is this command; qsnapfs must be on "
                + "mount's PATH (/usr/local/bin or /usr/bin: make install). Started by systemd (a .mount unit, an "
                + "fstab line), the server logs to the journal."})
final class MountCommand extends CommandBase implements Callable<Integer> {
    private static final long READY_TIMEOUT_MS = 30_000;

    @Parameters(index = "0", paramLabel = "IMAGE_DIR", description = "Directory holding the qcow2 images.")
    Path imageDir;

    @Parameters(index = "1", paramLabel = "MOUNTPOINT", description = "Empty directory to mount on.")
    Path mountPoint;

    @Option(names = {"-f", "--foreground"}, description = "Stay in the foreground and log to standard error.")
    boolean foreground;

    @Option(names = {"-o", "--options"}, split = ",", paramLabel = "OPTION",
            description = {"Mount options, as mount(8) and fstab give them:",
                "ro: control requests are refused (as --read-only); rw: they are not (the default).",
                "qmp=DIR: a create or delete on an image a running VM holds goes to its QEMU over the QMP socket "
                    + "DIR/<image>.qmp (e.g. web01.qcow2.qmp, or web01.qmp); without one, over the QMP sockets on the "
                    + "command line of the QEMU that has the image open. qmp_timeout=S: how long a monitor may take "
                    + "to greet and answer each query (default 5); one that does not greet is busy (EBUSY).",
                "For FUSE: allow_other (others may read the snapshots), allow_root, nodev, nosuid, noexec, noatime, "
                    + "entry_timeout=S, attr_timeout=S, negative_timeout=S (seconds the kernel caches names and "
                    + "attributes).",
                "Accepted and ignored, for mount, mount.fuse and systemd: defaults, dev, suid, exec, auto, noauto, "
                    + "nofail, _netdev, user, users, nouser, x-* (e.g. x-systemd.automount), comment=*.",
                "Any other option is refused."})
    List<String> options = new ArrayList<>();

    @Option(names = "--read-only", description = "Refuse every control request with EROFS (as -o ro).")
    boolean readOnly;

    @Option(names = "--log-file", paramLabel = "FILE",
            description = "Log of the background server (default: the journal when started by systemd, else "
                + "<mountpoint with / as _>.log in /run/qsnapfs for root, $XDG_RUNTIME_DIR/qsnapfs or /tmp/qsnapfs-UID "
                + "for others; made 0700).")
    Path logFile;

    @Override
    public Integer call() throws Exception {
        Path dir = imageDir.toAbsolutePath().normalize();
        Path mp = mountPoint.toAbsolutePath().normalize();
        MountOptions given;
        try {
            given = MountOptions.parse(options);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        MountOptions mo = new MountOptions(readOnly || given.readOnly(), given.fuse(), given.qmpDir(), given.qmpTimeout());
        try {
            FuseMount.checkArguments(dir, mp);
            if (foreground) {
                return serve(dir, mp, mo);
            }
            return startServer(dir, mp, mo);
        } catch (MountException e) {
            throw new CliException(e.getMessage(), e);
        }
    }

    private int serve(Path dir, Path mp, MountOptions mo) throws MountException, InterruptedException {
        PrintStream err = streams().err();
        RequestLog log = new RequestLog(line -> {
            synchronized (err) {
                err.println(line);
                err.flush();
            }
        });
        FuseMount mount = FuseMount.start(dir, mp, mo.fuse(), mo.readOnly(), mo.qmpRoutes(), log);
        log.add("serving " + dir + " on " + mp + (mo.readOnly() ? " (read-only)" : ""));
        mount.awaitUnmount();
        log.add("unmounted " + mp);
        return 0;
    }

    private int startServer(Path dir, Path mp, MountOptions mo) throws IOException, InterruptedException {
        Path log = serverLog(mp);
        long logStart = log != null && Files.exists(log) ? Files.size(log) : 0;
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid");
        }
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        // the server runs with this JVM's options (file.encoding, QSNAPFS_JAVA_OPTS from the launcher)
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.add("mount");
        if (mo.readOnly()) {
            cmd.add("--read-only");
        }
        for (String o : mo.serverOptions()) {
            cmd.add("-o");
            cmd.add(o);
        }
        cmd.add("-f");
        cmd.add(dir.toString());
        cmd.add(mp.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (log != null) {
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).redirectErrorStream(true);
        } else {
            // stderr is the journal; stdout may be a pipe its caller waits on to close (out=$(mount ...)),
            // and the server writes nothing there
            pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT);
        }
        Process server = pb.start();
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (!FuseMount.FS_TYPE.equals(MountTable.typeAt(mp))) {
            if (!server.isAlive()) {
                throw new CliException(log != null ? serverMessage(log, logStart, mp)
                        : mp + ": mount failed (the server's reason is in the journal just before this line)");
            }
            if (System.currentTimeMillis() > deadline) {
                server.destroy();
                throw new CliException(mp + ": the server did not come up within " + READY_TIMEOUT_MS / 1000
                        + " s (log: " + (log != null ? log : "the journal") + ")");
            }
            Thread.sleep(20);
        }
        return 0;
    }

    /**
     * Where the background server logs: {@code --log-file}; else the journal (null) when this
     * process's stderr is the journal; else a file in a directory only this user may write
     * ({@link ServerLogDirectory}). Only the journal may be inherited: a
     * terminal or a pipe must be let go of, or whoever reads the pipe to its end would wait until
     * the unmount.
     */
    private Path serverLog(Path mp) {
        if (logFile != null) {
            return logFile;
        }
        if (JournalStream.isStderr()) {
            return null;
        }
        try {
            return ServerLogDirectory.logFor(mp, System.getenv());
        } catch (IOException e) {
            throw new CliException(mp + ": no place for the server's log: " + ImageException.reason(e), e);
        }
    }

    /** What the failed server said, without its program-name prefix; the log's name otherwise. */
    private static String serverMessage(Path log, long from, Path mp) throws IOException {
        byte[] all = Files.readAllBytes(log);
        String said = new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from),
                StandardCharsets.UTF_8).strip();
        for (String line : said.split("\n")) {
            if (line.startsWith("qsnapfs: ")) {
                return line.substring("qsnapfs: ".length());
            }
        }
        return mp + ": mount failed" + (said.isEmpty() ? "" : ": " + said.replace('\n', ' '));
    }
}
