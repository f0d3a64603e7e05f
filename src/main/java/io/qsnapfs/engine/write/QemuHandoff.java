package io.qsnapfs.engine.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.format.SnapshotLookup;
import io.qsnapfs.io.LockConflictException;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.qmp.FileHolder;
import io.qsnapfs.qmp.QmpClient;
import io.qsnapfs.qmp.QmpErrorException;
import io.qsnapfs.qmp.QmpException;
import io.qsnapfs.qmp.QmpTimeoutException;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A snapshot create or delete handed to the running QEMU that holds the image, where no other
 * writer may touch it. QEMU does it over its QMP monitor with {@code blockdev-snapshot-internal-sync}
 * and {@code blockdev-snapshot-delete-internal-sync}, inside the process that owns the image, so
 * its caches and ours never disagree; we only read the snapshot table, before (to refuse what our
 * own writer refuses, with the same words) and after (to name what QEMU made).
 *
 * <p>Finding the monitor ({@link #reach}): the processes that have the image open ({@link
 * FileHolder}, lock holders first), the QMP sockets their command lines name, tried in order, the
 * first that greets wins; or the one socket the caller names, which overrides the search. On the
 * monitor, the block device whose top image is this file ({@code query-block}, else a node of
 * {@code query-named-block-nodes}). A monitor serves one client at a time, so one that another
 * client holds (libvirt keeps its own) does not greet: that is BUSY, as is a holder with no QMP
 * monitor at all, with the reason. Every exchange has a time limit; nothing here waits without one.
 *
 * <p>Errors map as our own writer's do: a taken name EXISTS, an unknown snapshot NOT_FOUND (both
 * decided on the table we read, and on QEMU's words should the table change in between), anything
 * else QEMU refuses IO with QEMU's message.
 */
public final class QemuHandoff implements Closeable {
    /** The default limit, in seconds, for connecting, the greeting and each query. */
    public static final int DEFAULT_TIMEOUT_SECONDS = 5;
    /** The default limit for connecting, the greeting and each query. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(DEFAULT_TIMEOUT_SECONDS);
    /** How long the snapshot command itself may take, in minutes. */
    public static final int COMMAND_LIMIT_MINUTES = 10;
    /** How long the snapshot command itself may take: QEMU walks every table of the image, in its main loop. */
    static final Duration COMMAND_LIMIT = Duration.ofMinutes(COMMAND_LIMIT_MINUTES);
    /** How many monitors are tried at most: a command line may name any number. */
    static final int MAX_MONITORS = 8;
    /** Finding a monitor and the image's device on it takes at most this many time limits in all. */
    static final int REACH_TIMEOUTS = 3;
    /** The most characters of QEMU's error message that go into ours (and so into the log). */
    private static final int MAX_ERROR_CHARS = 500;

    /**
     * What a request did: the snapshot made, deleted or applied, and who did it: {@code QEMU pid
     * 1234} (or {@code QEMU at SOCKET}) when handed over, null when qsnapfs did it itself.
     */
    public record Done(SnapshotEntry snapshot, String by) {
    }

    private final Path image;
    private final String name;
    private final QmpClient client;
    private final String device;
    private final String by;

    private QemuHandoff(Path image, String name, QmpClient client, String device, String by) {
        this.image = image;
        this.name = name;
        this.client = client;
        this.device = device;
        this.by = by;
    }

    /**
     * Whether {@code e}, thrown by {@link WritableImage#open}, says another process holds the
     * image's locks: the case a running VM's QEMU can take over.
     */
    public static boolean heldByAnother(ImageException e) {
        return e.kind() == ImageException.Kind.BUSY && e.getCause() instanceof LockConflictException;
    }

    /**
     * The refusal of an apply while another process holds the image: a running VM's disk cannot be
     * set back under it, and QMP has no disk-only apply. When the holders are known and none is a
     * VM (qemu-nbd, say), {@code busy} as it is; when {@code /proc} shows none (another user's
     * QEMU), the VM's hint all the same.
     */
    public static ImageException applyRefusal(Path image, ImageException busy) {
        List<FileHolder> holders = holders(image);
        if (holders.isEmpty()) {
            return new ImageException(ImageException.Kind.BUSY, PositionalFile.nameOf(image) + ": in use by another"
                    + " process (" + reason(busy) + "); a snapshot cannot be applied under a running VM: stop the VM"
                    + " or program that has it open and try again, or use loadvm in the VM's monitor", busy);
        }
        for (FileHolder h : holders) {
            if (h.command().startsWith("qemu-system") || h.command().equals("qemu-kvm") || !h.qmpSockets().isEmpty()) {
                return new ImageException(ImageException.Kind.BUSY, PositionalFile.nameOf(image) + ": in use by QEMU pid "
                        + h.pid() + " (" + reason(busy) + "); a snapshot cannot be applied under a running VM: stop"
                        + " the VM and try again, or use loadvm in its monitor", busy);
            }
        }
        return busy;
    }

    /**
     * Reaches the QEMU that holds {@code image}: connects to a QMP monitor and finds the block
     * device of the image there. The monitors tried, in order and each once: {@code socket} when
     * given (a mapping), then the ones the holders' command lines name, at most {@link
     * #MAX_MONITORS}; the first that greets and has the image as a writable top image wins. All
     * of it within one deadline of {@link #REACH_TIMEOUTS} times {@code timeout}, each wait
     * within {@code timeout}.
     *
     * @param busy    what {@link WritableImage#open} threw (its reason goes into BUSY messages)
     * @param timeout the limit for connecting, the greeting and each query
     * @throws ImageException BUSY when no monitor can take the request (none, busy, silent, not
     *         QMP, or one whose QEMU has the image only as a backing file), with each one's reason
     */
    public static QemuHandoff reach(Path image, Path socket, Duration timeout, ImageException busy) {
        String name = PositionalFile.nameOf(image);
        List<FileHolder> holders = holders(image);
        Map<Path, Long> monitors = new LinkedHashMap<>(); // socket -> pid of its QEMU, 0 when unknown
        if (socket != null) {
            monitors.put(socket, pidServing(socket, holders));
        }
        for (FileHolder h : holders) {
            for (Path s : h.qmpSockets()) {
                if (monitors.size() < MAX_MONITORS) {
                    monitors.putIfAbsent(s, h.pid());
                }
            }
        }
        if (monitors.isEmpty()) {
            throw new ImageException(ImageException.Kind.BUSY, name + ": in use by another process (" + describe(holders)
                    + reason(busy) + "), with no QMP monitor on a unix socket to hand the request to; stop it,"
                    + " or name its monitor (--qmp SOCKET, or mount -o qmp=DIR)", busy);
        }
        long deadline = System.nanoTime() + timeout.toNanos() * REACH_TIMEOUTS;
        List<String> failures = new ArrayList<>();
        for (Map.Entry<Path, Long> m : monitors.entrySet()) {
            Path s = m.getKey();
            long pid = m.getValue();
            if (deadline - System.nanoTime() < 1_000_000) {
                failures.add(s + ": not tried, the time limit of " + REACH_TIMEOUTS + " x " + seconds(timeout)
                        + " s is up");
                continue;
            }
            QmpClient client;
            try {
                client = QmpClient.connect(s, remaining(timeout, deadline));
            } catch (QmpException e) {
                failures.add(e.getMessage());
                continue;
            }
            try {
                String device = findDevice(client, s, image, pid, timeout, deadline, failures);
                if (device != null) {
                    String by = pid > 0 ? "QEMU pid " + pid : "QEMU at " + s;
                    return new QemuHandoff(image, name, client, device, by);
                }
            } catch (QmpException e) {
                failures.add(e.getMessage());
            } catch (RuntimeException e) {
                client.close();
                throw e;
            }
            client.close();
        }
        throw new ImageException(ImageException.Kind.BUSY, name + ": in use by another process (" + describe(holders)
                + reason(busy) + "), and no QMP monitor can take the request: " + String.join("; ", failures),
                busy);
    }

    /** Who did it, as the log says it: {@code QEMU pid 1234}. */
    public String by() {
        return by;
    }

    /** The snapshot table as it is on disk now (read without locks, as QEMU keeps it written). */
    public List<SnapshotEntry> snapshots() {
        return snapshotsOf(image);
    }

    /** The snapshot table of {@code image} as it is on disk now, read without locks (a VM may hold it). */
    public static List<SnapshotEntry> snapshotsOf(Path image) {
        try (ImageFile f = ImageFile.openReadOnly(image)) {
            long size = f.length();
            QcowHeader h = f.readHeader();
            f.checkTablePlacement(h, size);
            return f.readSnapshotTable(h, size);
        }
    }

    /**
     * Has QEMU create a disk-only snapshot named {@code snapshotName} (its ID and dates are QEMU's:
     * the VM clock is the guest's, where our writer stores 0).
     *
     * @throws ImageException EXISTS, INVALID_ARGUMENT as {@link WritableImage#create}; IO with QEMU's
     *         message when QEMU refuses or does not answer in time
     */
    public Done create(String snapshotName) {
        WritableImage.checkName(name, snapshotName);
        WritableImage.checkNameFree(name, snapshots(), snapshotName);
        ObjectNode args = JsonNodeFactory.instance.objectNode().put("device", device).put("name", snapshotName);
        execute("blockdev-snapshot-internal-sync", args, "already exists", ImageException.Kind.EXISTS);
        SnapshotEntry made = SnapshotLookup.byName(snapshots(), snapshotName);
        if (made == null) {
            throw new ImageException(ImageException.Kind.IO, name + ": " + by + " reported snapshot '" + snapshotName
                    + "' made, but the snapshot table has no such snapshot");
        }
        return new Done(made, by);
    }

    /**
     * Has QEMU delete the snapshot {@code idOrName} means by our rule ({@link WritableImage#find}),
     * named to QEMU by both its ID and name so that QEMU deletes exactly that one.
     *
     * @throws ImageException NOT_FOUND, INVALID_ARGUMENT as {@link WritableImage#delete}; IO with
     *         QEMU's message when QEMU refuses or does not answer in time
     */
    public Done delete(String idOrName) {
        SnapshotEntry target = WritableImage.find(name, snapshots(), idOrName);
        ObjectNode args = JsonNodeFactory.instance.objectNode().put("device", device).put("id", target.idString());
        if (Arrays.equals(target.nameString().getBytes(StandardCharsets.UTF_8), target.name())) {
            args.put("name", target.nameString()); // a name that is not UTF-8 cannot be sent: the ID alone
        }
        execute("blockdev-snapshot-delete-internal-sync", args, "does not exist", ImageException.Kind.NOT_FOUND);
        for (SnapshotEntry e : snapshots()) {
            if (Arrays.equals(e.id(), target.id()) && Arrays.equals(e.name(), target.name())) {
                throw new ImageException(ImageException.Kind.IO, name + ": " + by + " reported snapshot '"
                        + target.nameString() + "' (ID " + target.idString() + ") deleted, but the snapshot table"
                        + " still has it");
            }
        }
        return new Done(target, by);
    }

    /**
     * Sends one snapshot command. An error whose description contains {@code knownError} is
     * {@code knownKind} (QEMU 7.2 says "Snapshot with name 'x' already exists on device 'y'" and
     * "Snapshot with id '1' and name 'x' does not exist on device 'y'"); any other is IO.
     */
    private void execute(String command, ObjectNode args, String knownError, ImageException.Kind knownKind) {
        try {
            client.execute(command, args, COMMAND_LIMIT);
        } catch (QmpErrorException e) {
            String said = e.description();
            ImageException.Kind kind = said.contains(knownError) ? knownKind : ImageException.Kind.IO;
            if (said.length() > MAX_ERROR_CHARS) {
                said = said.substring(0, MAX_ERROR_CHARS) + "...";
            }
            throw new ImageException(kind, name + ": " + by + " refused " + command + ": " + said, e);
        } catch (QmpTimeoutException e) {
            throw new ImageException(ImageException.Kind.IO, name + ": " + by + " did not answer " + command
                    + " within " + COMMAND_LIMIT.toMinutes() + " minutes; it may still finish (see snapshot list)", e);
        } catch (QmpException e) {
            throw new ImageException(ImageException.Kind.IO, name + ": " + command + " sent to " + by + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        client.close();
    }

    /**
     * The block device (or root node) whose writable top image is {@code image}: a {@code
     * query-block} entry with a qcow2 image of this file, its device name or else its node name;
     * failing that, a qcow2 node of {@code query-named-block-nodes} (a {@code -blockdev} with no
     * device). A read-only node of the file (a backing file of another disk) cannot take a
     * snapshot: noted in {@code failures}. Null when none.
     */
    private static String findDevice(QmpClient client, Path socket, Path image, long pid, Duration timeout, long deadline,
            List<String> failures) throws QmpException {
        boolean readOnly = false;
        for (JsonNode b : client.execute("query-block", null, remaining(timeout, deadline))) {
            JsonNode inserted = b.path("inserted");
            if (inserted.path("drv").asText().equals("qcow2") && sameFile(inserted.path("file").asText(), image, pid)) {
                if (inserted.path("ro").asBoolean(false)) {
                    readOnly = true;
                    continue;
                }
                String device = b.path("device").asText();
                return !device.isEmpty() ? device : inserted.path("node-name").asText(null);
            }
        }
        for (JsonNode n : client.execute("query-named-block-nodes", null, remaining(timeout, deadline))) {
            if (n.path("drv").asText().equals("qcow2") && sameFile(n.path("file").asText(), image, pid)) {
                if (n.path("ro").asBoolean(false)) {
                    readOnly = true;
                    continue;
                }
                return n.path("node-name").asText(null);
            }
        }
        failures.add(socket + ": this QEMU has " + (readOnly ? "the image only read-only (a backing file of"
                + " another disk?), where it cannot take a snapshot" : "no disk whose image is " + image));
        return null;
    }

    /** What is left of {@code deadline}, at most {@code timeout}; at least a millisecond. */
    private static Duration remaining(Duration timeout, long deadline) {
        return Duration.ofNanos(Math.max(1_000_000, Math.min(timeout.toNanos(), deadline - System.nanoTime())));
    }

    /**
     * The pid of the QEMU behind a mapped socket: the holder whose command line names it, else the
     * only holder; 0 when it cannot be told.
     */
    private static long pidServing(Path socket, List<FileHolder> holders) {
        for (FileHolder h : holders) {
            for (Path s : h.qmpSockets()) {
                try {
                    if (Files.isSameFile(s, socket)) {
                        return h.pid();
                    }
                } catch (IOException | SecurityException e) {
                    // gone or not ours to look at: not this one
                }
            }
        }
        return holders.size() == 1 ? holders.get(0).pid() : 0;
    }

    private static String seconds(Duration d) {
        return java.math.BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString();
    }

    /**
     * Whether QEMU's file name is {@code image}; a relative one is resolved in QEMU's working
     * directory, and matches nothing when QEMU's pid is not known.
     */
    private static boolean sameFile(String qemuName, Path image, long pid) {
        if (qemuName.isEmpty() || qemuName.startsWith("json:")) {
            return false;
        }
        try {
            Path p = Path.of(qemuName);
            if (!p.isAbsolute()) {
                if (pid <= 0) {
                    return false;
                }
                p = Path.of("/proc", Long.toString(pid), "cwd").resolve(p);
            }
            return Files.isSameFile(p, image);
        } catch (IOException | InvalidPathException | SecurityException e) {
            return false;
        }
    }

    /**
     * The processes that hold the image: those with a lock on it when any has one (a mount, a
     * reader may have it open besides), else all that have it open; empty when /proc cannot tell.
     */
    private static List<FileHolder> holders(Path image) {
        List<FileHolder> all;
        try {
            all = FileHolder.of(image);
        } catch (IOException e) {
            return List.of();
        }
        List<FileHolder> lockers = all.stream().filter(FileHolder::locks).toList();
        return lockers.isEmpty() ? all : lockers;
    }

    /** {@code pid 1234, qemu-system-x86: } for each holder (joined by {@code ; }), nothing when /proc shows none. */
    private static String describe(List<FileHolder> holders) {
        StringBuilder b = new StringBuilder();
        for (FileHolder h : holders) {
            b.append("pid ").append(h.pid()).append(", ").append(h.command()).append(holders.size() > 1 ? "; " : ": ");
        }
        if (holders.size() > 1) {
            b.setLength(b.length() - 2);
            b.append(": ");
        }
        return b.toString();
    }

    private static String reason(ImageException busy) {
        return busy.getCause() instanceof LockConflictException l ? l.reason() : busy.getMessage();
    }
}
