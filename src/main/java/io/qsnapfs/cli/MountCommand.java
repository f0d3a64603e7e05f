package io.qsnapfs.cli;

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
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs mount IMAGE_DIR MOUNTPOINT}: serves the directory over FUSE. In the foreground
 * ({@code -f}) this process serves and logs to stderr. Otherwise it starts a server process of its
 * own (in a new session, so it outlives the shell), waits until the kernel answers on the mount
 * point, and exits 0; if the server fails first, its message is shown and the exit status is 1.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Serve the snapshots of the qcow2 images in IMAGE_DIR as read-only raw files.",
            "Every snapshot appears as MOUNTPOINT/<image>/snapshots/<name>.raw and by-id/<id>.raw;",
            "the VM state of a snapshot taken with savevm as vm-state/<id>.vmstate;",
            "control/log lists images that were skipped and read errors."})
final class MountCommand extends CommandBase implements Callable<Integer> {
    private static final long READY_TIMEOUT_MS = 30_000;

    @Parameters(index = "0", paramLabel = "IMAGE_DIR", description = "Directory holding the qcow2 images.")
    Path imageDir;

    @Parameters(index = "1", paramLabel = "MOUNTPOINT", description = "Empty directory to mount on.")
    Path mountPoint;

    @Option(names = "-f", description = "Stay in the foreground and log to standard error.")
    boolean foreground;

    @Option(names = "-o", split = ",", paramLabel = "OPTION",
            description = "FUSE mount options, passed through (e.g. allow_other).")
    List<String> options = new ArrayList<>();

    @Option(names = "--read-only", description = "Refuse every control request with EROFS.")
    boolean readOnly;

    @Option(names = "--log-file", paramLabel = "FILE",
            description = "Log of the background server (default: /tmp/qsnapfs-<mountpoint>.log).")
    Path logFile;

    @Override
    public Integer call() throws Exception {
        Path dir = imageDir.toAbsolutePath().normalize();
        Path mp = mountPoint.toAbsolutePath().normalize();
        try {
            FuseMount.checkArguments(dir, mp);
            if (foreground) {
                return serve(dir, mp);
            }
            return startServer(dir, mp);
        } catch (MountException e) {
            throw new CliException(e.getMessage(), e);
        }
    }

    private int serve(Path dir, Path mp) throws MountException, InterruptedException {
        PrintStream err = streams().err();
        RequestLog log = new RequestLog(line -> {
            synchronized (err) {
                err.println(line);
                err.flush();
            }
        });
        FuseMount mount = FuseMount.start(dir, mp, options, readOnly, log);
        log.add("serving " + dir + " on " + mp + (readOnly ? " (read-only)" : ""));
        mount.awaitUnmount();
        log.add("unmounted " + mp);
        return 0;
    }

    private int startServer(Path dir, Path mp) throws IOException, InterruptedException {
        Path log = logFile != null ? logFile
                : Path.of("/tmp", "qsnapfs-" + mp.toString().replace('/', '_') + ".log");
        long logStart = Files.exists(log) ? Files.size(log) : 0;
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
        if (readOnly) {
            cmd.add("--read-only");
        }
        for (String o : options) {
            cmd.add("-o");
            cmd.add(o);
        }
        cmd.add("-f");
        cmd.add(dir.toString());
        cmd.add(mp.toString());
        Process server = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true)
                .start();
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (!FuseMount.FS_TYPE.equals(MountTable.typeAt(mp))) {
            if (!server.isAlive()) {
                throw new CliException(serverMessage(log, logStart, mp));
            }
            if (System.currentTimeMillis() > deadline) {
                server.destroy();
                throw new CliException(mp + ": the server did not come up within " + READY_TIMEOUT_MS / 1000
                        + " s (log: " + log + ")");
            }
            Thread.sleep(20);
        }
        return 0;
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
