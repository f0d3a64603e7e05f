package io.qsnapfs.cli;

import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.mount.QmpRoutes;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The {@code -o} options of a mount, as they come from {@code qsnapfs mount -o}, from {@code mount -t
 * fuse.qsnapfs -o} and from an fstab line (through {@code mount.fuse}, which adds {@code rw} or
 * {@code ro} and {@code dev,suid} itself). Each option is one of:
 * <ul>
 * <li>{@code ro}: the control directories refuse requests (as {@code --read-only}); {@code rw}
 *     undoes an earlier {@code ro}, the last one wins as with mount(8);</li>
 * <li>{@code qmp=DIR}: the QMP sockets of the VMs that hold images, {@code DIR/NAME.qmp} for the
 *     image {@code NAME} ({@link io.qsnapfs.mount.QmpRoutes}); {@code qmp_timeout=SECONDS}: the
 *     time limit of each exchange with a monitor (default 5);</li>
 * <li>a FUSE option passed to libfuse ({@link #FUSE}, and the {@code =SECONDS} timeouts);</li>
 * <li>an option that mount(8), mount.fuse or systemd act on before qsnapfs runs ({@link #IGNORED},
 *     and {@code x-*} and {@code comment=*}, which libmount keeps for other programs): accepted and
 *     ignored, so an fstab line works when it reaches qsnapfs unfiltered;</li>
 * <li>anything else: refused, naming every such option, before anything is mounted.</li>
 * </ul>
 *
 * @param readOnly   true when the last of {@code ro}/{@code rw} was {@code ro}
 * @param fuse       the options for libfuse, in the order given
 * @param qmpDir     the directory of {@code qmp=}, or null
 * @param qmpTimeout the seconds of {@code qmp_timeout=}, or null for the default
 */
record MountOptions(boolean readOnly, List<String> fuse, Path qmpDir, String qmpTimeout) {
    /** Passed to libfuse as they are. */
    static final Set<String> FUSE = Set.of("allow_other", "allow_root", "nodev", "nosuid", "noexec", "noatime");
    /** Passed to libfuse with a number of seconds. */
    static final Set<String> FUSE_TIMEOUTS = Set.of("entry_timeout", "attr_timeout", "negative_timeout");
    /**
     * Consumed by mount(8), mount.fuse or systemd. mount.fuse adds {@code dev,suid} to every call;
     * the mount stays nosuid and nodev as libfuse makes it (its files are plain 0444 files).
     */
    static final Set<String> IGNORED = Set.of("defaults", "dev", "suid", "exec", "auto", "noauto", "nofail", "_netdev",
            "user", "users", "nouser");

    /** What the options do; an option qsnapfs does not know fails with a message naming them all. */
    static MountOptions parse(List<String> options) {
        boolean readOnly = false;
        Path qmpDir = null;
        String qmpTimeout = null;
        List<String> fuse = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (String o : options) {
            int eq = o.indexOf('=');
            String name = eq < 0 ? o : o.substring(0, eq);
            if (o.isEmpty() || IGNORED.contains(o) || o.startsWith("x-") || name.equals("comment")) {
                continue;
            }
            if (o.equals("ro") || o.equals("rw")) {
                readOnly = o.equals("ro");
            } else if (name.equals("qmp") && eq > 0 && eq < o.length() - 1) {
                qmpDir = Path.of(o.substring(eq + 1)).toAbsolutePath().normalize();
            } else if (name.equals("qmp_timeout") && eq > 0) {
                qmpTimeout = o.substring(eq + 1);
                try {
                    QmpOptions.parseTimeout(qmpTimeout);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("mount option qmp_timeout=" + e.getMessage(), e);
                }
            } else if (FUSE.contains(o)) {
                fuse.add(o);
            } else if (eq > 0 && FUSE_TIMEOUTS.contains(name)) {
                fuse.add(name + "=" + seconds(name, o.substring(eq + 1)));
            } else {
                unknown.add("'" + o + "'");
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException((unknown.size() == 1 ? "unknown mount option " : "unknown mount options ")
                    + String.join(", ", unknown) + "; qsnapfs takes ro, rw, " + String.join(", ", sorted(FUSE))
                    + ", " + String.join("=SECONDS, ", sorted(FUSE_TIMEOUTS)) + "=SECONDS, qmp=DIR, qmp_timeout=SECONDS, and ignores "
                    + String.join(", ", sorted(IGNORED)) + ", x-* and comment=* (see qsnapfs mount --help)");
        }
        return new MountOptions(readOnly, List.copyOf(fuse), qmpDir, qmpTimeout);
    }

    /** The {@code qmp=} and {@code qmp_timeout=} options, as the mount's control requests use them. */
    QmpRoutes qmpRoutes() {
        return new QmpRoutes(qmpDir, qmpTimeout == null ? QemuHandoff.DEFAULT_TIMEOUT
                : QmpOptions.parseTimeout(qmpTimeout));
    }

    /** The options the background server is started with, as {@code -o} takes them. */
    List<String> serverOptions() {
        List<String> all = new ArrayList<>(fuse);
        if (qmpDir != null) {
            all.add("qmp=" + qmpDir);
        }
        if (qmpTimeout != null) {
            all.add("qmp_timeout=" + qmpTimeout);
        }
        return all;
    }

    private static String seconds(String name, String value) {
        if (!value.matches("[0-9]+(\\.[0-9]+)?")) {
            throw new IllegalArgumentException("mount option " + name + "=" + value
                    + ": not a number of seconds (e.g. " + name + "=60 or " + name + "=0.5)");
        }
        return value;
    }

    private static List<String> sorted(Set<String> names) {
        return names.stream().sorted().toList();
    }
}
