package io.qsnapfs.mount;

import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.mount.Node.DirKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * A name the kernel may have cached that no longer means what it meant: {@code name} in the
 * directory at {@code directory} (a mount path such as {@code /web01.qcow2/snapshots}, or
 * {@code /} for an image's own directory).
 */
public record StaleName(String directory, String name) {
    /**
     * The names that change when an image's handle is replaced: {@code before} or {@code after} is
     * null when the image appears or goes. An image that appears or goes is its one name in the root
     * (dropping it drops everything the kernel cached below it). Otherwise every snapshot and VM
     * state file name that is new, gone, or names another snapshot now; all of them if the file
     * itself was replaced.
     */
    static List<StaleName> between(String image, ImageHandle before, ImageHandle after) {
        if (before == null || after == null) {
            return before == after ? List.of() : List.of(new StaleName("/", image));
        }
        boolean sameFile = Objects.equals(before.state.inode(), after.state.inode());
        List<StaleName> stale = new ArrayList<>();
        changed(image, DirKind.SNAPSHOTS, before.byName(), after.byName(), sameFile, stale);
        changed(image, DirKind.BY_ID, before.byId(), after.byId(), sameFile, stale);
        changed(image, DirKind.VM_STATE, before.vmStates(), after.vmStates(), sameFile, stale);
        return stale;
    }

    private static void changed(String image, DirKind kind, Map<String, SnapshotEntry> before,
            Map<String, SnapshotEntry> after, boolean sameFile, List<StaleName> out) {
        TreeSet<String> names = new TreeSet<>(before.keySet());
        names.addAll(after.keySet());
        String dir = "/" + image + "/" + kind.fileName();
        for (String n : names) {
            if (!sameFile || !Objects.equals(before.get(n), after.get(n))) {
                out.add(new StaleName(dir, n));
            }
        }
    }
}
