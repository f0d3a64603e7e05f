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
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
    /** How long the snapshot command itself may take: QEMU walks every table of the image, in its main loop. */
    static final Duration COMMAND_LIMIT = Duration.ofMinutes(10);
    /** The default limit for connecting, the greeting and each query. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    /** What QEMU did: the snapshot made or deleted, and who did it ({@code QEMU pid 1234}). */
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
     * set back under it, and QMP has no disk-only apply. When the holder is no VM (qemu-nbd, say),
     * {@code busy} as it is.
     */
    public static ImageException applyRefusal(Path image, ImageException busy) {
        for (FileHolder h : holders(image)) {
            if (h.command().startsWith("qemu-system") || !h.qmpSockets().isEmpty()) {
                return new ImageException(ImageException.Kind.BUSY, PositionalFile.nameOf(image) + ": in use by QEMU pid "
                        + h.pid() + " (" + reason(busy) + "); a snapshot cannot be applied under a running VM: stop"
                        + " the VM and try again, or use loadvm in its monitor", busy);
            }
        }
        return busy;
    }

    /**
     * Reaches the QEMU that holds {@code image}: connects to its QMP monitor ({@code socket}, or the
     * ones the holder's command line names when null) and finds the block device of the image.
     *
     * @param busy    what {@link WritableImage#open} threw (its reason goes into BUSY messages)
     * @param timeout the limit for connecting, the greeting and each query
     * @throws ImageException BUSY when no monitor can be reached (none, busy, silent), with each
     *         monitor's reason; IO when a monitor fails otherwise
     */
    public static QemuHandoff reach(Path image, Path socket, Duration timeout, ImageException busy) {
        String name = PositionalFile.nameOf(image);
        List<FileHolder> holders = holders(image);
        List<Long> pids = new ArrayList<>();
        List<Path> sockets = new ArrayList<>();
        if (socket != null) {
            pids.add(holders.size() == 1 ? holders.get(0).pid() : 0);
            sockets.add(socket);
        } else {
            for (FileHolder h : holders) {
                for (Path s : h.qmpSockets()) {
                    pids.add(h.pid());
                    sockets.add(s);
                }
            }
        }
        if (sockets.isEmpty()) {
            throw new ImageException(ImageException.Kind.BUSY, name + ": in use by " + describe(holders) + " ("
                    + reason(busy) + "), with no QMP monitor on a unix socket to hand the request to; stop it,"
                    + " or name its monitor (--qmp SOCKET, or mount -o qmp=DIR)", busy);
        }
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < sockets.size(); i++) {
            long pid = pids.get(i);
            Path s = sockets.get(i);
            QmpClient client;
            try {
                client = QmpClient.connect(s, timeout);
            } catch (QmpException e) {
                failures.add(e.getMessage());
                continue;
            }
            try {
                String device = findDevice(client, image, pid, timeout);
                if (device != null) {
                    String by = pid > 0 ? "QEMU pid " + pid : "QEMU at " + s;
                    return new QemuHandoff(image, name, client, device, by);
                }
                failures.add(s + ": this QEMU has no disk whose image is " + image);
            } catch (QmpException e) {
                failures.add(e.getMessage());
            } catch (RuntimeException e) {
                client.close();
                throw e;
            }
            client.close();
        }
        throw new ImageException(ImageException.Kind.BUSY, name + ": in use by " + describe(holders) + " ("
                + reason(busy) + "), and its QMP monitor cannot take the request: " + String.join("; ", failures),
                busy);
    }

    /** Who did it, as the log says it: {@code QEMU pid 1234}. */
    public String by() {
        return by;
    }

    /** The snapshot table as it is on disk now (read without locks, as QEMU keeps it written). */
    public List<SnapshotEntry> snapshots() {
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
        ObjectNode args = JsonNodeFactory.instance.objectNode().put("device", device)
                .put("id", target.idString()).put("name", target.nameString());
        execute("blockdev-snapshot-delete-internal-sync", args, "does not exist", ImageException.Kind.NOT_FOUND);
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
            ImageException.Kind kind = e.description() != null && e.description().contains(knownError)
                    ? knownKind : ImageException.Kind.IO;
            throw new ImageException(kind, name + ": " + by + " refused " + command + ": " + e.description(), e);
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
     * The block device (or root node) whose top image is {@code image}: a {@code query-block} entry
     * with a qcow2 image of this file, its device name or else its node name; failing that, a qcow2
     * node of {@code query-named-block-nodes} (a {@code -blockdev} with no device). Null when none.
     */
    private static String findDevice(QmpClient client, Path image, long pid, Duration timeout) throws QmpException {
        for (JsonNode b : client.execute("query-block", null, timeout)) {
            JsonNode inserted = b.path("inserted");
            if (inserted.path("drv").asText().equals("qcow2") && sameFile(inserted.path("file").asText(), image, pid)) {
                String device = b.path("device").asText();
                return !device.isEmpty() ? device : inserted.path("node-name").asText(null);
            }
        }
        for (JsonNode n : client.execute("query-named-block-nodes", null, timeout)) {
            if (n.path("drv").asText().equals("qcow2") && sameFile(n.path("file").asText(), image, pid)) {
                return n.path("node-name").asText(null);
            }
        }
        return null;
    }

    /** Whether QEMU's file name (relative ones to its working directory) is {@code image}. */
    private static boolean sameFile(String qemuName, Path image, long pid) {
        if (qemuName.isEmpty() || qemuName.startsWith("json:")) {
            return false;
        }
        try {
            Path p = Path.of(qemuName);
            if (!p.isAbsolute() && pid > 0) {
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

    /** {@code pid 1234 (qemu-system-x86)}, for each holder; {@code another process} when /proc shows none. */
    private static String describe(List<FileHolder> holders) {
        if (holders.isEmpty()) {
            return "another process";
        }
        return String.join(", ", holders.stream().map(h -> "pid " + h.pid() + " (" + h.command() + ")").toList());
    }

    private static String reason(ImageException busy) {
        return busy.getCause() instanceof LockConflictException l ? l.reason() : busy.getMessage();
    }
}
