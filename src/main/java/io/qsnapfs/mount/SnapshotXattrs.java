package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.SnapshotEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The extended attributes of a snapshot file ({@code snapshots/NAME.raw} and {@code by-id/ID.raw}):
 * the snapshot's facts, for {@code getfattr -d}. Values are text without a newline, numbers in
 * decimal:
 * <pre>
 * user.qsnapfs.id               the ID, the bytes stored in the image
 * user.qsnapfs.name             the name, the bytes stored in the image
 * user.qsnapfs.date             when it was taken, ISO 8601 in UTC ("2026-12-01T04:57:57.928265Z")
 * user.qsnapfs.vm_clock         the guest clock when it was taken, in nanoseconds
 * user.qsnapfs.vm_state_size    bytes of saved VM state (0: disk only)
 * user.qsnapfs.disk_size        bytes of the snapshot's disk (the file's size)
 * user.qsnapfs.icount           the instruction count, only when the snapshot records one
 * user.qsnapfs.exclusive_bytes  what deleting this snapshot alone would free (counted on first use)
 * </pre>
 * Every other file of the mount has none. They cannot be set or removed: the mount refuses every
 * change of a snapshot file.
 */
final class SnapshotXattrs {
    static final String PREFIX = "user.qsnapfs.";

    private static final List<String> NAMES = List.of("id", "name", "date", "vm_clock", "vm_state_size", "disk_size",
            "icount", "exclusive_bytes");

    private SnapshotXattrs() {
    }

    /** The attributes {@code snapshot}'s file has, in a fixed order. */
    static List<String> names(SnapshotEntry snapshot) {
        List<String> out = new ArrayList<>(NAMES.size());
        for (String n : NAMES) {
            if (!n.equals("icount") || snapshot.icount() != -1) {
                out.add(PREFIX + n);
            }
        }
        return out;
    }

    /**
     * The value of attribute {@code name} of {@code snapshot}'s file; counting its exclusive bytes
     * when they are asked for the first time in this state of the image ({@link
     * ImageHandle#exclusiveBytes}).
     *
     * @throws ImageException NO_ATTRIBUTE when the file has no such attribute
     */
    static byte[] value(ImageHandle image, SnapshotEntry snapshot, String name) {
        if (!names(snapshot).contains(name)) {
            throw none(name);
        }
        return switch (name.substring(PREFIX.length())) {
            case "id" -> snapshot.id();
            case "name" -> snapshot.name();
            case "date" -> text(snapshot.date().toString());
            case "vm_clock" -> text(Long.toUnsignedString(snapshot.vmClockNsec()));
            case "vm_state_size" -> text(Long.toUnsignedString(snapshot.vmStateSize()));
            case "disk_size" -> text(Long.toString(image.image().snapshotDiskSize(snapshot)));
            case "icount" -> text(Long.toString(snapshot.icount()));
            case "exclusive_bytes" -> text(Long.toString(image.exclusiveBytes(snapshot)));
            default -> throw new IllegalStateException(name);
        };
    }

    /** The failure for an attribute a file does not have. */
    static ImageException none(String name) {
        return new ImageException(ImageException.Kind.NO_ATTRIBUTE, "no extended attribute " + name);
    }

    private static byte[] text(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
