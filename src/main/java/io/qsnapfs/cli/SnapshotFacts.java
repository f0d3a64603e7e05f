package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.check.ExclusiveClusters;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * The facts of one snapshot as the JSON of {@code info} and {@code snapshot list} give them (field
 * names in snake case; fields are only ever added, at the end):
 *
 * <pre>
 * {
 *   "id": "1", "name": "nightly",   stored bytes read as UTF-8 (invalid bytes become U+FFFD)
 *   "vm_state_size": 0,             bytes of saved VM state (0 for a disk-only snapshot)
 *   "disk_size": 10737418240,       the snapshot's disk size (the image's size if not recorded)
 *   "disk_size_recorded": true,     false for entries without that extra data (old v2 images)
 *   "date": "2024-05-01T12:00:00Z", UTC, from date_sec (and date_nsec, below)
 *   "date_sec": 1714564800, "date_nsec": 0,
 *   "vm_clock_nsec": 0,
 *   "icount": null,                 null when unknown (-1 or not recorded)
 *   "l1_table_offset": 327680, "l1_size": 20, "extra_data_size": 24,
 *   "exclusive_bytes": 65536        what deleting this snapshot alone would free ({@link
 *                                   ExclusiveClusters}); null when not counted (see the command)
 * }
 * </pre>
 *
 * Unsigned 64-bit fields (vm_state_size, vm_clock_nsec) are written as exact unsigned numbers.
 */
record SnapshotFacts(String id, String name, Number vmStateSize, long diskSize, boolean diskSizeRecorded,
        String date, long dateSec, long dateNsec, Number vmClockNsec, Long icount, long l1TableOffset,
        long l1Size, int extraDataSize, Long exclusiveBytes) {

    /** How the exclusive bytes of a command's snapshots are had. */
    enum Exclusive {
        /** Not counted: null. */
        NONE,
        /** Counted; a snapshot whose tables cannot be counted (corrupt) gets null. */
        WHERE_COUNTABLE,
        /** Counted; any failure fails the command. */
        ALL
    }

    /** The facts of every snapshot of {@code image}, in table order. */
    static List<SnapshotFacts> of(QcowImage image, Exclusive exclusive) {
        ExclusiveClusters counter = exclusive == Exclusive.NONE || image.snapshots().isEmpty() ? null
                : counter(image, exclusive);
        List<SnapshotFacts> out = new ArrayList<>();
        for (SnapshotEntry s : image.snapshots()) {
            Long bytes = counter == null ? null : exclusiveBytes(counter, s, exclusive);
            out.add(new SnapshotFacts(s.idString(), s.nameString(), unsigned(s.vmStateSize()),
                    image.snapshotDiskSize(s), s.hasDiskSize(),
                    s.date().toString(),
                    s.dateSec(), s.dateNsec(), unsigned(s.vmClockNsec()), s.icount() == -1 ? null : s.icount(),
                    s.l1TableOffset(), Integer.toUnsignedLong(s.l1Size()), s.extraData().length, bytes));
        }
        return out;
    }

    private static ExclusiveClusters counter(QcowImage image, Exclusive exclusive) {
        try {
            return ExclusiveClusters.of(image.imageFile());
        } catch (ImageException e) {
            if (exclusive == Exclusive.WHERE_COUNTABLE && e.kind() == ImageException.Kind.CORRUPT) {
                return null;
            }
            throw e;
        }
    }

    private static Long exclusiveBytes(ExclusiveClusters counter, SnapshotEntry s, Exclusive exclusive) {
        try {
            return counter.bytes(s);
        } catch (ImageException e) {
            if (exclusive == Exclusive.WHERE_COUNTABLE && e.kind() == ImageException.Kind.CORRUPT) {
                return null;
            }
            throw e;
        }
    }

    private static Number unsigned(long v) {
        return v >= 0 ? (Number) v : new BigInteger(Long.toUnsignedString(v));
    }
}
