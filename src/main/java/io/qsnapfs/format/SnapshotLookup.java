package io.qsnapfs.format;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * QEMU's one rule for finding a snapshot by what a user typed: a snapshot whose ID is exactly that
 * wins; otherwise every snapshot with that name, in table order. Readers take the first (as QEMU
 * reads); writers refuse a name several snapshots share, where QEMU would pick one at random
 * from the user's point of view. IDs and names are compared as the UTF-8 bytes stored.
 */
public final class SnapshotLookup {
    private SnapshotLookup() {
    }

    /** The snapshot with exactly this ID (QEMU's {@code snapshot.id=}), or null. */
    public static SnapshotEntry byId(List<SnapshotEntry> snapshots, String id) {
        byte[] key = id.getBytes(StandardCharsets.UTF_8);
        return first(snapshots, s -> s.hasId(key));
    }

    /** The first snapshot in table order with this name (QEMU's {@code snapshot.name=}), or null. */
    public static SnapshotEntry byName(List<SnapshotEntry> snapshots, String name) {
        byte[] key = name.getBytes(StandardCharsets.UTF_8);
        return first(snapshots, s -> s.hasName(key));
    }

    private static SnapshotEntry first(List<SnapshotEntry> snapshots, Predicate<SnapshotEntry> match) {
        return snapshots.stream().filter(match).findFirst().orElse(null);
    }

    /** The snapshot with ID {@code idOrName}, else all those named so; empty when none is. */
    public static List<SnapshotEntry> matches(List<SnapshotEntry> snapshots, String idOrName) {
        byte[] key = idOrName.getBytes(StandardCharsets.UTF_8);
        List<SnapshotEntry> named = new ArrayList<>();
        for (SnapshotEntry s : snapshots) {
            if (s.hasId(key)) {
                return List.of(s);
            }
            if (s.hasName(key)) {
                named.add(s);
            }
        }
        return named;
    }
}
