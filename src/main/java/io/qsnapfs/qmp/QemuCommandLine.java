package io.qsnapfs.qmp;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The QMP monitor sockets a QEMU command line ({@code qemu-system-*}'s argv) sets up, read the way
 * QEMU 7.2 reads its options. Only unix sockets QEMU listens on count; the rest (TCP, stdio,
 * sockets QEMU connects out to, human monitors) cannot be reached from here or are not QMP.
 *
 * <h2>The options</h2>
 * An option is written {@code -name} or {@code --name}, and its value is the next argument (QEMU
 * has no {@code -name=value} form); an argument that is no option is a disk image. A QMP monitor
 * comes from
 * <ul>
 * <li>{@code -qmp unix:PATH[,server=on][,wait=off]} or {@code -qmp-pretty ...}, in the legacy
 *     character device syntax: {@code unix:} and then key=value options whose implied first key is
 *     {@code path} (so {@code unix:path=PATH,...} too), optionally after {@code mon:}; other
 *     schemes ({@code tcp:}, {@code stdio}, ...) are no unix socket;
 * <li>{@code -qmp chardev:ID}, or {@code -mon [chardev=]ID,mode=control}, on the character device
 *     {@code -chardev socket,id=ID,path=PATH,server=on,...} (elements in any order, the backend
 *     also as {@code backend=socket}, the chardev anywhere on the command line). Without
 *     {@code mode=control} a {@code -mon} is a human monitor (HMP), as every {@code -monitor} is.
 * </ul>
 * The socket must be a server ({@code server=on}, or the flag {@code server}): a client-mode socket
 * connects out to someone else's. Sockets in the abstract namespace ({@code abstract=on}) and ones
 * passed as a descriptor ({@code fd=}, as libvirt does) have no path and are left out.
 *
 * <h2>Limits</h2>
 * This class does not know which of QEMU's other options take a value, so the value of an unknown
 * option that reads exactly like one of the options above ({@code -name -qmp}) would be taken for
 * it. Monitors that {@code -readconfig} files set up are not seen, and a relative path is relative
 * to the directory QEMU started in, which is its current one unless it changed it
 * ({@code -daemonize}, {@code -chroot}). A path is one in QEMU's mount namespace, taken as one in
 * ours (a QEMU in a container names paths only it can see). {@code qemu-storage-daemon}'s
 * {@code --monitor chardev=ID}, QMP by default, is not read.
 */
final class QemuCommandLine {
    private QemuCommandLine() {
    }

    /**
     * The paths of the QMP monitor sockets {@code argv} sets up, as written (relative ones
     * unresolved), in the order of the monitor options.
     *
     * @param argv the whole command line, the program first (as {@code /proc/PID/cmdline} has it)
     */
    static List<String> qmpSockets(List<String> argv) {
        Map<String, QemuOptions> chardevs = new HashMap<>();
        List<Monitor> monitors = new ArrayList<>();
        for (int i = 1; i < argv.size(); i++) {
            String arg = argv.get(i);
            if (!arg.startsWith("-")) {
                continue; // a disk image
            }
            String option = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
            if (!takesValue(option)) {
                continue;
            }
            if (i + 1 >= argv.size()) {
                break; // QEMU would refuse to start
            }
            String value = argv.get(++i);
            switch (option) {
                case "qmp", "qmp-pretty" -> {
                    if (value.startsWith("chardev:")) {
                        monitors.add(new Monitor(value.substring("chardev:".length()), null));
                    } else {
                        String legacy = value.startsWith("mon:") ? value.substring("mon:".length()) : value;
                        if (legacy.startsWith("unix:")) {
                            monitors.add(new Monitor(null, QemuOptions.parse(legacy.substring("unix:".length()), "path")));
                        }
                    }
                }
                case "mon" -> {
                    QemuOptions mon = QemuOptions.parse(value, "chardev");
                    if ("control".equals(mon.get("mode")) && mon.get("chardev") != null) {
                        monitors.add(new Monitor(mon.get("chardev"), null));
                    }
                }
                case "chardev" -> {
                    QemuOptions chardev = QemuOptions.parse(value, "backend");
                    if ("socket".equals(chardev.get("backend")) && chardev.get("id") != null) {
                        chardevs.putIfAbsent(chardev.get("id"), chardev);
                    }
                }
                default -> {
                    // -monitor: a human monitor
                }
            }
        }
        List<String> sockets = new ArrayList<>();
        for (Monitor monitor : monitors) {
            QemuOptions socket = monitor.chardev() != null ? chardevs.get(monitor.chardev()) : monitor.socket();
            String path = socket == null ? null : listeningPath(socket);
            if (path != null) {
                sockets.add(path);
            }
        }
        return sockets;
    }

    /** A QMP monitor: on the chardev of that id, or on a socket of its own (legacy syntax). */
    private record Monitor(String chardev, QemuOptions socket) {
    }

    /** Whether {@code option} is one of those this class reads, all of which take a value. */
    private static boolean takesValue(String option) {
        return switch (option) {
            case "qmp", "qmp-pretty", "mon", "chardev", "monitor" -> true;
            default -> false;
        };
    }

    /** The path of a socket chardev's options if QEMU listens on it there, else null. */
    private static String listeningPath(QemuOptions socket) {
        String path = socket.get("path");
        if (path == null || path.isEmpty() || socket.get("fd") != null || !socket.isOn("server", false)
                || socket.isOn("abstract", false)) {
            return null;
        }
        return path;
    }
}
