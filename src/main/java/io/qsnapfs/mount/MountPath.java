package io.qsnapfs.mount;

import io.qsnapfs.mount.Node.DirKind;

/**
 * A path in the mount as libfuse gives it, split into its names once:
 * <pre>
 * /                                   no names
 * /IMAGE                              image
 * /IMAGE/TOP                          snapshots, by-id, vm-state or control
 * /IMAGE/TOP/NAME                     a snapshot or VM state file, a request directory, or log
 * /IMAGE/control/REQUEST/ARGUMENT     a request (create, delete or apply) and its argument
 * </pre>
 */
final class MountPath {
    private final String text;
    private final String[] names;

    private MountPath(String text, String[] names) {
        this.text = text;
        this.names = names;
    }

    static MountPath parse(String path) {
        int start = 0;
        while (start < path.length() && path.charAt(start) == '/') {
            start++;
        }
        String rest = path.substring(start);
        return new MountPath(path, rest.isEmpty() ? new String[0] : rest.split("/"));
    }

    /** How many names the path has (0 for the root). */
    int depth() {
        return names.length;
    }

    /** The name at {@code index}, 0 being the image. */
    String name(int index) {
        return names[index];
    }

    /** The request directory a request path is in, or null when the path is no request. */
    DirKind request() {
        return names.length == 4 && names[1].equals("control") ? requestKind(names[2]) : null;
    }

    /** The request directory with this name under {@code control/}, or null. */
    static DirKind requestKind(String name) {
        for (DirKind k : new DirKind[] {DirKind.CREATE, DirKind.DELETE, DirKind.APPLY}) {
            if (k.fileName().equals(name)) {
                return k;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return text;
    }
}
