package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real QEMU virtual machine over one qcow2 image, for snapshots that carry VM state as only a
 * running QEMU makes them ({@code savevm}). It runs {@code qemu-system-x86_64} with TCG, 32 MiB of
 * RAM, no display and no default devices, and the image as drive {@code drive0} attached to no
 * guest device: without a kernel the guest sits in its BIOS, which is all {@code savevm} needs
 * (about 0.4 s and 600 KiB of VM state; a VM started paused saves less, mostly zero pages). QEMU's
 * human monitor (HMP) listens on a unix socket of its own under {@code /tmp}.
 *
 * <p>{@link #savevm} makes an internal snapshot of the disk and the VM's state, {@link #qemuIo}
 * writes to the disk through QEMU's own block layer between snapshots, {@link #hmp} runs any
 * monitor command; {@link #savevm(Path, String...)} does it all for a list of names. Every step
 * has a time limit. {@link #close} sends {@code quit} and waits for QEMU to exit, killing it when it
 * does not; a failing step leaves the process to {@code close} (use try-with-resources), and a
 * shutdown hook kills it should the JVM exit first, so no QEMU outlives a test. While it runs,
 * QEMU holds the image's locks, as any VM does.
 *
 * <p>{@link #on} sets a VM up further before it starts: more options (QMP monitors, say), other
 * options to attach the image ({@code -blockdev}), a working directory. {@link #pid} and
 * {@link #output} tell what a test of the process itself needs.
 *
 * <p>A missing {@code qemu-system-x86_64} fails the test with the hint to run {@code make setup}.
 */
public final class QemuVm implements AutoCloseable {
    /** How long QEMU may take to start and answer on its monitor. */
    private static final long START_SECONDS = 30;
    /** How long one monitor command may take ({@code savevm} of 32 MiB takes about a second). */
    private static final long COMMAND_SECONDS = 60;
    /** How long QEMU may take to exit after {@code quit}, and again after SIGTERM. */
    private static final long QUIT_SECONDS = 10;
    private static final String PROMPT = "(qemu) ";
    /** The cursor movements HMP's line editor sends while it echoes what it is sent. */
    private static final Pattern TERMINAL_ESCAPES = Pattern.compile("\u001b\\[[0-9;]*[A-Za-z]");

    private final Path image;
    private final Path dir;
    private final Process process;
    private final Thread reaper;
    private SocketChannel monitor;
    private Selector selector;

    private QemuVm(Path image, Path dir, Process process) {
        this.image = image;
        this.dir = dir;
        this.process = process;
        this.reaper = new Thread(process::destroyForcibly);
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /** Starts a VM on {@code image} (qcow2, not in use) and waits for its monitor's first prompt. */
    public static QemuVm start(Path image) {
        return on(image).start();
    }

    /** Like {@link #start(Path)}, with the guest's CPU stopped from the start ({@code -S}). */
    public static QemuVm startPaused(Path image) {
        return on(image).paused().start();
    }

    /**
     * Makes one {@code savevm} snapshot of {@code image} per name, in order, in one VM that runs
     * from the first to the last, and quits it. The snapshots get the IDs QEMU gives them.
     */
    public static void savevm(Path image, String... names) {
        try (QemuVm vm = start(image)) {
            for (String name : names) {
                vm.savevm(name);
            }
        }
    }

    /** A VM on {@code image} to set up further before {@link Builder#start}. */
    public static Builder on(Path image) {
        return new Builder(image);
    }

    /**
     * How to start a VM: the defaults of {@link #start(Path)}, changed by a method each. The HMP
     * monitor that this class drives is always there.
     */
    public static final class Builder {
        private final Path image;
        private boolean paused;
        /** The options that attach the image; null for the default {@code -drive ...,id=drive0}. */
        private List<String> block;
        private final List<String> extra = new ArrayList<>();
        private Path workingDirectory;

        private Builder(Path image) {
            this.image = image;
        }

        /** The guest's CPU stopped from the start ({@code -S}). */
        public Builder paused() {
            paused = true;
            return this;
        }

        /**
         * Attaches the image with these options instead of {@code -drive file=IMAGE,format=qcow2,
         * if=none,id=drive0}, e.g. {@code -blockdev} ones; {@link #qemuIo} needs a {@code drive0}.
         */
        public Builder block(String... options) {
            block = List.of(options);
            return this;
        }

        /** Adds options to the command line, e.g. {@code -qmp unix:/tmp/x.sock,server=on,wait=off}. */
        public Builder args(String... options) {
            extra.addAll(List.of(options));
            return this;
        }

        /** A QMP monitor QEMU listens for on the unix socket {@code socket} ({@code -qmp unix:SOCKET,server=on,wait=off}). */
        public Builder qmp(Path socket) {
            return args("-qmp", "unix:" + commaSafe(socket.toString()) + ",server=on,wait=off");
        }

        /** Runs QEMU in {@code dir}, against which it resolves relative paths. */
        public Builder workingDirectory(Path dir) {
            workingDirectory = dir;
            return this;
        }

        /** Starts the VM and waits for its monitor's first prompt. */
        public QemuVm start() {
            return QemuVm.start(this);
        }
    }

    private static QemuVm start(Builder options) {
        Path image = options.image;
        Path dir;
        try {
            dir = Files.createTempDirectory(Path.of("/tmp"), "qsnapfs-vm-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path socket = dir.resolve("monitor.sock");
        List<String> command = new ArrayList<>(List.of("qemu-system-x86_64", "-accel", "tcg", "-m", "32",
                "-nodefaults", "-no-user-config", "-display", "none"));
        if (options.block == null) {
            command.addAll(List.of("-drive",
                    "file=" + commaSafe(image.toAbsolutePath().toString()) + ",format=qcow2,if=none,id=drive0"));
        } else {
            command.addAll(options.block);
        }
        command.addAll(List.of("-monitor", "unix:" + commaSafe(socket.toString()) + ",server=on,wait=off"));
        if (options.paused) {
            command.add("-S");
        }
        command.addAll(options.extra);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("qemu.log").toFile());
        if (options.workingDirectory != null) {
            pb.directory(options.workingDirectory.toFile());
        }
        pb.environment().put("LC_ALL", "C");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            deleteTree(dir);
            fail("cannot run qemu-system-x86_64 (" + e.getMessage() + "); run make setup");
            return null;
        }
        QemuVm vm = new QemuVm(image, dir, p);
        try {
            vm.connect(socket);
            vm.response("the monitor's greeting", START_SECONDS);
            return vm;
        } catch (Throwable t) {
            vm.close();
            throw t;
        }
    }

    /** QEMU's option syntax: a comma inside a value is written twice. */
    private static String commaSafe(String value) {
        return value.replace(",", ",,");
    }

    private void connect(Path socket) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (true) {
            if (!process.isAlive()) {
                fail(this + " exited " + process.exitValue() + " before its monitor answered:\n" + log());
            }
            if (Files.exists(socket)) {
                try {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    try {
                        ch.connect(UnixDomainSocketAddress.of(socket));
                        ch.configureBlocking(false);
                        selector = Selector.open();
                        ch.register(selector, SelectionKey.OP_READ);
                        monitor = ch;
                        return;
                    } catch (IOException e) {
                        ch.close(); // not listening yet
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            if (System.nanoTime() > deadline) {
                fail(this + ": no monitor on " + socket + " within " + START_SECONDS + " s:\n" + log());
            }
            sleep(20);
        }
    }

    /**
     * Runs an HMP command and returns what it printed (without the echo of the command and the
     * prompt). Fails when QEMU reports an error or does not answer within the time limit.
     */
    public String hmp(String command) {
        if (command.contains("\n")) {
            throw new IllegalArgumentException("one command per line: " + command);
        }
        try {
            ByteBuffer b = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                monitor.write(b);
            }
        } catch (IOException e) {
            fail(this + ": cannot send '" + command + "' (" + e.getMessage() + "):\n" + log());
        }
        String text = response("'" + command + "'", COMMAND_SECONDS);
        int echoEnd = text.indexOf("\r\n");
        String output = echoEnd < 0 ? "" : text.substring(echoEnd + 2);
        if (output.contains("Error") || output.startsWith("unknown command")) {
            fail(this + ": '" + command + "' failed: " + output.trim());
        }
        return output.replace("\r\n", "\n");
    }

    /** {@code savevm NAME}: a snapshot of the disk and the VM state, replacing one of that name. */
    public void savevm(String name) {
        hmp("savevm " + name);
    }

    /**
     * {@code qemu-io drive0 "COMMAND"}: runs a qemu-io command (e.g. {@code write -P 0x5a 0 64k}) on the
     * VM's disk through QEMU's block layer; returns its output.
     */
    public String qemuIo(String command) {
        if (command.contains("\"")) {
            throw new IllegalArgumentException("no quotes in a qemu-io command: " + command);
        }
        String output = hmp("qemu-io drive0 \"" + command + "\"");
        if (output.contains("failed")) {
            fail(this + ": qemu-io '" + command + "' failed: " + output.trim());
        }
        return output;
    }

    /** Reads from the monitor up to the next prompt, within {@code seconds}; escapes removed. */
    private String response(String what, long seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        StringBuilder text = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(8192);
        try {
            while (!text.toString().endsWith(PROMPT)) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    fail(this + ": no answer to " + what + " within " + seconds + " s; got so far: "
                            + text.toString().trim() + "\n" + log());
                }
                selector.select(left);
                selector.selectedKeys().clear();
                b.clear();
                int n = monitor.read(b);
                if (n < 0) {
                    fail(this + ": the monitor closed while waiting for " + what + "; got: " + text.toString().trim()
                            + "\n" + log());
                }
                text.append(new String(b.array(), 0, n, StandardCharsets.ISO_8859_1));
                String clean = TERMINAL_ESCAPES.matcher(text).replaceAll("");
                text.setLength(0);
                text.append(clean);
            }
        } catch (IOException e) {
            fail(this + ": reading the monitor: " + e.getMessage() + "\n" + log());
        }
        return text.substring(0, text.length() - PROMPT.length());
    }

    /** What QEMU wrote to its standard output and error so far, for failure messages. */
    private String log() {
        try {
            return "--- qemu-system-x86_64 output:\n" + output();
        } catch (UncheckedIOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    /**
     * What QEMU wrote to its standard output and error so far: warnings, and the output of
     * {@code qemu-io} commands run through QMP's {@code human-monitor-command}, which QEMU 7.2
     * prints there rather than returning it.
     */
    public String output() {
        try {
            return Files.readString(dir.resolve("qemu.log"), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** QEMU's process id. */
    public long pid() {
        return process.pid();
    }

    /**
     * Quits QEMU ({@code quit} on the monitor) and waits until it has exited, so the image is free
     * again; kills it (SIGTERM, then SIGKILL) when it does not exit in time. Never fails.
     */
    @Override
    public void close() {
        try {
            if (monitor != null && process.isAlive()) {
                try {
                    monitor.write(ByteBuffer.wrap("quit\n".getBytes(StandardCharsets.US_ASCII)));
                } catch (IOException e) {
                    // gone already, or broken: the process is ended below
                }
            }
            if (!process.waitFor(QUIT_SECONDS, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(QUIT_SECONDS, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(QUIT_SECONDS, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        } finally {
            closeQuietly();
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
            deleteTree(dir);
        }
    }

    private void closeQuietly() {
        try {
            if (selector != null) {
                selector.close();
            }
            if (monitor != null) {
                monitor.close();
            }
        } catch (IOException ignored) {
            // nothing left to do with it
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a socket dir left under /tmp is harmless
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "qemu-system-x86_64 (pid " + process.pid() + ") on " + image.getFileName();
    }
}
