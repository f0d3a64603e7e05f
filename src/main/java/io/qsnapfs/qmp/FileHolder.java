package io.qsnapfs.qmp;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A process other than this JVM that has a given file open, as {@code /proc} shows it: its pid and
 * command, whether it holds byte-range locks on the file (QEMU's image locks are open file
 * description locks), and the QMP monitor sockets its command line sets up
 * ({@link QemuCommandLine}), through which a running QEMU can be asked to act on the file.
 *
 * <p>{@link #of} finds them among the descriptors in {@code /proc/PID/fd} of every process this
 * user may look into (all of them for root) by device and inode, so a file opened under another
 * name (a hard link, a bind mount, a path renamed since) is found too; only descriptors whose
 * fdinfo shows the file's inode number are looked at through their file system, so a file on a
 * dead NFS server or a hung FUSE mount open elsewhere cannot stall the search. What it reads of a process is bounded ({@link #MAX_CMDLINE}, {@link #MAX_FDINFO}). A
 * snapshot of a moment: a process may open or close the file right after.
 */
public final class FileHolder {
    /** The most bytes of {@code /proc/PID/cmdline} read: far more than any QEMU's command line. */
    static final int MAX_CMDLINE = 1 << 20;
    /** The most bytes of one {@code /proc/PID/fdinfo/FD} read; QEMU's image locks take a few hundred. */
    static final int MAX_FDINFO = 64 << 10;
    /** The most bytes of {@code /proc/PID/comm} read; the kernel keeps 15 and a newline. */
    private static final int MAX_COMM = 64;
    private static final Path PROC = Path.of("/proc");

    private final long pid;
    private final String command;
    private final boolean locks;
    private final List<Path> qmpSockets;

    FileHolder(long pid, String command, boolean locks, List<Path> qmpSockets) {
        this.pid = pid;
        this.command = command;
        this.locks = locks;
        this.qmpSockets = List.copyOf(qmpSockets);
    }

    public long pid() {
        return pid;
    }

    /** Its executable's short name ({@code /proc/PID/comm}), e.g. {@code qemu-system-x86}. */
    public String command() {
        return command;
    }

    /**
     * True when one of its descriptors of the file holds an open file description or POSIX lock
     * (a {@code lock:} line of {@code /proc/PID/fdinfo/FD}): for a QEMU, that it holds the image's
     * locks ({@code io.qsnapfs.io.ImageLock} describes them). A QEMU started with
     * {@code file.locking=off} holds none.
     */
    public boolean locks() {
        return locks;
    }

    /**
     * The QMP monitor sockets its command line sets up, absolute (a relative path resolved against
     * {@code /proc/PID/cwd}), in command-line order; empty when none.
     */
    public List<Path> qmpSockets() {
        return qmpSockets;
    }

    /**
     * Every process but this one with {@code file} open (the same device and inode, found through
     * {@code /proc/PID/fd}): the lock holders first, each group by pid. Processes that end, or
     * cannot be read, while they are looked at are left out.
     *
     * @throws IOException {@code file} cannot be looked at (the message names it), or {@code /proc}
     *         cannot be listed
     */
    public static List<FileHolder> of(Path file) throws IOException {
        Object fileKey = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
        if (fileKey == null) {
            throw new IOException(file + ": the file system gives no device and inode to find its holders by");
        }
        Target key = new Target(fileKey, (Long) Files.getAttribute(file, "unix:ino"), file.toRealPath().toString());
        long self = ProcessHandle.current().pid();
        List<FileHolder> holders = new ArrayList<>();
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(PROC)) {
            for (Path process : processes) {
                String name = process.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit) || name.length() > 18) {
                    continue;
                }
                long pid = Long.parseLong(name);
                if (pid == self) {
                    continue;
                }
                try {
                    FileHolder holder = inspect(process, pid, key);
                    if (holder != null) {
                        holders.add(holder);
                    }
                } catch (IOException e) {
                    // ended meanwhile, or not ours to read
                }
            }
        }
        holders.sort(Comparator.comparing((FileHolder h) -> !h.locks).thenComparingLong(h -> h.pid));
        return holders;
    }

    /**
     * The file looked for: its device and inode, and what tells the descriptors that cannot be it
     * without a look at their files (a file on a dead NFS server or a hung FUSE mount would block
     * that look for good): the inode number fdinfo shows (Linux 5.14 on), else the path.
     */
    private record Target(Object key, long inode, String realPath) {
    }

    /** The holder that process {@code pid} is, or null when it does not have the file open. */
    private static FileHolder inspect(Path process, long pid, Target target) throws IOException {
        boolean open = false;
        boolean locks = false;
        try (DirectoryStream<Path> descriptors = Files.newDirectoryStream(process.resolve("fd"))) {
            for (Path fd : descriptors) {
                String link = linkOf(fd);
                if (link == null) {
                    continue;
                }
                String info = fdinfo(process.resolve("fdinfo").resolve(fd.getFileName()));
                long inode = inodeOf(info);
                boolean candidate = inode >= 0 ? inode == target.inode() : link.equals(target.realPath());
                // only a descriptor that can be the file is looked at through its file system
                if (!candidate || !target.key().equals(fileKey(fd))) {
                    continue;
                }
                open = true;
                locks = locks || holdsLock(info);
            }
        }
        if (!open) {
            return null;
        }
        String command = trimNewline(new String(readAtMost(process.resolve("comm"), MAX_COMM),
                StandardCharsets.UTF_8));
        List<Path> sockets = new ArrayList<>();
        Path cwd = null;
        for (String socket : QemuCommandLine.qmpSockets(commandLine(process))) {
            Path path;
            try {
                path = Path.of(socket);
            } catch (InvalidPathException e) {
                continue; // a name this JVM's encoding cannot hold, so it could not connect to it either
            }
            if (!path.isAbsolute()) {
                if (cwd == null) {
                    cwd = Files.readSymbolicLink(process.resolve("cwd"));
                }
                path = cwd.resolve(path);
            }
            sockets.add(path);
        }
        return new FileHolder(pid, command, locks, sockets);
    }

    /**
     * The path a descriptor link names (reading it touches no file system), or null when it names
     * no file in one ({@code socket:[...]}, {@code pipe:[...]}, {@code anon_inode:...}) or is closed.
     */
    private static String linkOf(Path fd) {
        try {
            Path target = Files.readSymbolicLink(fd);
            return target.isAbsolute() ? target.toString() : null;
        } catch (IOException | InvalidPathException e) {
            return null; // closed meanwhile
        }
    }

    /** A descriptor's {@code /proc/PID/fdinfo/FD}, at most {@link #MAX_FDINFO} bytes; empty when closed. */
    private static String fdinfo(Path fdinfo) {
        try {
            return new String(readAtMost(fdinfo, MAX_FDINFO), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return "";
        }
    }

    /** The {@code ino:} of an fdinfo (Linux 5.14 on), or -1 when it has none. */
    private static long inodeOf(String info) {
        for (String line : info.split("\n")) {
            if (line.startsWith("ino:")) {
                try {
                    return Long.parseUnsignedLong(line.substring("ino:".length()).trim());
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return -1;
    }

    /** The device and inode of the file a descriptor link leads to, or null. */
    private static Object fileKey(Path fd) {
        try {
            return Files.readAttributes(fd, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Whether the descriptor's fdinfo lists an open file description or POSIX lock. */
    private static boolean holdsLock(String info) {
        // lock:\t1: OFDLCK  ADVISORY  READ 1234 08:01:5678 100 100
        for (String line : info.split("\n")) {
            if (line.startsWith("lock:")) {
                String[] fields = line.substring("lock:".length()).trim().split("\\s+");
                if (fields.length > 1 && (fields[1].equals("OFDLCK") || fields[1].equals("POSIX"))) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * {@code /proc/PID/cmdline} as arguments (each ends with a NUL); an argument that
     * {@link #MAX_CMDLINE} cuts off is left out.
     */
    private static List<String> commandLine(Path process) throws IOException {
        byte[] bytes = readAtMost(process.resolve("cmdline"), MAX_CMDLINE);
        Charset encoding = nativeEncoding();
        List<String> argv = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                argv.add(new String(bytes, start, i - start, encoding));
                start = i + 1;
            }
        }
        return argv;
    }

    /** The encoding of the system's locale, in which a command line's file names are best read. */
    private static Charset nativeEncoding() {
        try {
            return Charset.forName(System.getProperty("native.encoding", "UTF-8"));
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }

    private static byte[] readAtMost(Path file, int limit) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(limit);
        }
    }

    private static String trimNewline(String s) {
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    /** {@code COMMAND (pid PID)}, e.g. {@code qemu-system-x86 (pid 4242)}. */
    @Override
    public String toString() {
        return command + " (pid " + pid + ")";
    }
}
