package io.qsnapfs.cli;

import io.qsnapfs.format.SnapshotEntry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.List;

/**
 * The snapshot table as QEMU's tools print it ({@code qemu-img snapshot -l}, {@code qemu-img info}):
 * fixed-width columns ID, TAG, VM SIZE, DATE, VM CLOCK, ICOUNT; {@code snapshot list --exclusive}
 * adds EXCLUSIVE after them.
 *
 * <p>Widths count bytes, not characters, as C's printf does: a UTF-8 name takes as many columns as
 * it has bytes. IDs and names go out as the bytes stored in the image, cut at the first NUL and at
 * QEMU's buffer sizes (127 bytes of ID, 255 of name).
 */
final class SnapshotTableFormat {
    /** Longest ID QEMU keeps when it lists snapshots (its buffer holds 128 bytes with the NUL). */
    static final int MAX_ID_BYTES = 127;
    /** Longest name QEMU keeps when it lists snapshots (256 bytes with the NUL). */
    static final int MAX_NAME_BYTES = 255;

    /** The EXCLUSIVE column, right-aligned like qemu-img's numeric ones: a space, then 9 bytes. */
    private static final int EXCLUSIVE_WIDTH = 10;

    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");

    private SnapshotTableFormat() {
    }

    /**
     * Writes what {@code qemu-img snapshot -l} writes: nothing at all for an image without
     * snapshots, else "Snapshot list:", the heading and one line per snapshot in table order.
     */
    static void listing(PrintStream out, List<SnapshotEntry> snapshots, ZoneId zone) {
        listing(out, snapshots, zone, null);
    }

    /**
     * {@link #listing(PrintStream, List, ZoneId)} with a column EXCLUSIVE after qemu-img's: the
     * bytes deleting each snapshot would free ({@code exclusive}, in table order; null: no column),
     * in qemu-img's size format.
     */
    static void listing(PrintStream out, List<SnapshotEntry> snapshots, ZoneId zone, List<Long> exclusive) {
        if (snapshots.isEmpty()) {
            return;
        }
        out.print("Snapshot list:\n");
        table(out, snapshots, zone, exclusive);
    }

    /** The heading and the rows, without the "Snapshot list:" title. */
    static void table(PrintStream out, List<SnapshotEntry> snapshots, ZoneId zone) {
        table(out, snapshots, zone, null);
    }

    private static void table(PrintStream out, List<SnapshotEntry> snapshots, ZoneId zone, List<Long> exclusive) {
        ByteArrayOutputStream line = new ByteArrayOutputStream(160);
        heading(line);
        if (exclusive != null) {
            right(line, ascii("EXCLUSIVE"), EXCLUSIVE_WIDTH);
        }
        line.write('\n');
        out.write(line.toByteArray(), 0, line.size());
        for (int i = 0; i < snapshots.size(); i++) {
            line.reset();
            row(line, snapshots.get(i), zone);
            if (exclusive != null) {
                right(line, ascii(QemuSize.of(exclusive.get(i))), EXCLUSIVE_WIDTH);
            }
            line.write('\n');
            out.write(line.toByteArray(), 0, line.size());
        }
    }

    private static void heading(ByteArrayOutputStream line) {
        left(line, ascii("ID"), 10);
        left(line, ascii("TAG"), 17);
        right(line, ascii("VM SIZE"), 8);
        right(line, ascii("DATE"), 20);
        right(line, ascii("VM CLOCK"), 13);
        right(line, ascii("ICOUNT"), 11);
    }

    private static void row(ByteArrayOutputStream line, SnapshotEntry s, ZoneId zone) {
        left(line, cString(s.id(), MAX_ID_BYTES), 9);
        line.write(' ');
        left(line, cString(s.name(), MAX_NAME_BYTES), 16);
        line.write(' ');
        right(line, ascii(QemuSize.of(s.vmStateSize())), 8);
        right(line, ascii(date(s.dateSec(), zone)), 20);
        right(line, ascii(clock(s.vmClockNsec())), 13);
        right(line, ascii(s.icount() == -1 ? "" : Long.toString(s.icount())), 11);
    }

    /** The snapshot's date in the given zone, "2024-05-01 13:00:00". */
    static String date(long dateSec, ZoneId zone) {
        return DATE.format(Instant.ofEpochSecond(dateSec).atZone(zone));
    }

    /**
     * The guest clock (unsigned nanoseconds) as hours:minutes:seconds.milliseconds, with the hours
     * narrowed to a C int the way QEMU prints them.
     */
    static String clock(long vmClockNsec) {
        long secs = Long.divideUnsigned(vmClockNsec, 1_000_000_000L);
        int hours = (int) (secs / 3600);
        int minutes = (int) ((secs / 60) % 60);
        int seconds = (int) (secs % 60);
        int millis = (int) (Long.divideUnsigned(vmClockNsec, 1_000_000L) % 1000);
        return String.format("%02d:%02d:%02d.%03d", hours, minutes, seconds, millis);
    }

    /** The bytes before the first NUL, at most {@code max} of them. */
    static byte[] cString(byte[] stored, int max) {
        int n = 0;
        while (n < stored.length && n < max && stored[n] != 0) {
            n++;
        }
        return Arrays.copyOf(stored, n);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** printf("%-Ns"): the text, then spaces up to N bytes. */
    private static void left(ByteArrayOutputStream line, byte[] text, int width) {
        line.write(text, 0, text.length);
        pad(line, width - text.length);
    }

    /** printf("%Ns"): spaces up to N bytes, then the text. */
    private static void right(ByteArrayOutputStream line, byte[] text, int width) {
        pad(line, width - text.length);
        line.write(text, 0, text.length);
    }

    private static void pad(ByteArrayOutputStream line, int n) {
        for (int i = 0; i < n; i++) {
            line.write(' ');
        }
    }
}
