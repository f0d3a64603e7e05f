package io.qsnapfs.cli;

import io.qsnapfs.io.LibC;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * The {@code qsnapfs} command: reads qcow2 images and their internal snapshots, and creates, deletes
 * and applies snapshots. Each operation is a subcommand ({@code info}, {@code snapshot
 * list/create/delete/apply}, {@code diff}, {@code export}, {@code check}, {@code mount}, {@code umount}); new ones
 * are added to the
 * {@code subcommands} list here, or to {@link SnapshotCommand} for {@code snapshot} operations.
 *
 * <p>{@code qsnapfs IMAGE_DIR MOUNTPOINT -o OPTIONS}, the way mount.fuse runs a file system's
 * helper, is {@code qsnapfs mount} ({@link MountHelperCall}).
 *
 * <p>Exit status: 0 on success, 1 when the command failed (one line on standard error names the
 * image and the problem), 2 for a usage error.
 */
@Command(name = "qsnapfs", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Reads qcow2 disk images and their internal snapshots, offline or mounted over FUSE, and "
            + "creates, deletes and applies snapshots like qemu-img snapshot.",
            "For mount(8) and /etc/fstab (type fuse.qsnapfs), mount.fuse runs it as "
                + "'qsnapfs IMAGE_DIR MOUNTPOINT -o OPTIONS', which is 'qsnapfs mount' (see qsnapfs mount --help)."},
        subcommands = {InfoCommand.class, SnapshotCommand.class, DiffCommand.class, ExportCommand.class, CheckCommand.class,
            MountCommand.class, UmountCommand.class},
        exitCodeListHeading = "%nExit status%n",
        exitCodeList = {"0:success", "1:the command failed (one line on standard error names the image and the problem)",
            "2:a usage error"})
public final class Main implements Callable<Integer> {
    private final Streams streams;

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Print the stack trace of an error, for bug reports.")
    private boolean debug;

    @Spec
    private CommandSpec spec;

    /** Subcommands that run once and exit (not {@code mount}, which serves requests until unmounted). */
    private static final Set<String> ONE_SHOT = Set.of("info", "snapshot", "diff", "export", "check", "umount");

    Main(Streams streams) {
        this.streams = streams;
    }

    /** For picocli's generators (man pages, bash completion), which build the model from the class. */
    private Main() {
        this(new Streams(System.out, System.err, false));
    }

    Streams streams() {
        return streams;
    }

    boolean debug() {
        return debug;
    }

    /**
     * The first argument that is not an option: the subcommand, if any (for mount.fuse's call,
     * {@code qsnapfs IMAGE_DIR MOUNTPOINT -o ...}, the image directory: a mount, not one-shot).
     */
    private static String firstWord(String[] args) {
        for (String a : args) {
            if (!a.startsWith("-")) {
                return a;
            }
        }
        return "";
    }

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing command");
    }

    /** Runs the command line against the given streams, as a non-interactive session; returns the exit status. */
    public static int run(PrintStream out, PrintStream err, String... args) {
        return run(new Streams(out, err, false), args);
    }

    /** Runs the command line; returns the exit status. */
    public static int run(Streams streams, String... args) {
        Main main = new Main(streams);
        CommandLine cl = new CommandLine(main);
        cl.setOut(new PrintWriter(new OutputStreamWriter(streams.out(), StandardCharsets.UTF_8), true));
        cl.setErr(new PrintWriter(new OutputStreamWriter(streams.err(), StandardCharsets.UTF_8), true));
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler(new ErrorReporter(main));
        int status = cl.execute(MountHelperCall.asCommand(args, cl.getSubcommands().keySet()));
        cl.getOut().flush();
        cl.getErr().flush();
        streams.out().flush();
        streams.err().flush();
        return status;
    }

    public static void main(String[] args) {
        if (ONE_SHOT.contains(firstWord(args))) {
            // jnr-ffi binds native functions with bytecode it generates, which costs a command that
            // makes a handful of native calls (opening, locking, read-ahead hints) about 0.15 s of
            // its start; its reflection-based binding starts at once. The mount keeps the generated
            // binding: every FUSE request goes through it.
            System.setProperty("jnr.ffi.asm.enabled", "false");
        }
        if ("snapshot".equals(firstWord(args))) {
            // The writers open the image through libc (for QEMU's locks); binding it and making the
            // first call takes about 0.15 s, which a second core does while picocli builds its model.
            Thread warm = new Thread(LibC::warmUp, "qsnapfs-libc");
            warm.setDaemon(true);
            warm.start();
        }
        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16),
                false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        int status = run(new Streams(out, err, Streams.isTerminal(1), Streams.isTerminal(2)), args);
        System.exit(status);
    }
}
