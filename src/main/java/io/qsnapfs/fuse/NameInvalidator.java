package io.qsnapfs.fuse;

import io.qsnapfs.mount.StaleName;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import jnr.ffi.Pointer;

/**
 * Drops names the kernel has cached once they mean something else: a snapshot deleted, created or
 * reverted by a request, or by another program. The kernel keeps a looked-up name for a second
 * (libfuse's entry timeout) and would meanwhile answer {@code stat} of a deleted snapshot itself.
 *
 * <p>The kernel knows directories by node id, which libfuse's path-based callbacks do not see;
 * {@link #learn} records them from the requests the workers serve (a LOOKUP carries its parent's
 * id, a GETATTR its node's). A directory never learnt has nothing cached below it.
 *
 * <p>The catalog reports stale names while holding its lock, so they are queued and sent later by
 * {@link #deliver}, which must run where no lock a FUSE operation may need is held, and not inside
 * an operation on the same directory: the kernel takes the directory's lock for the notification
 * (libfuse's documentation of {@code fuse_lowlevel_notify_inval_entry}). A request in
 * {@code control/create/} holds only that directory, never {@code snapshots/}, {@code by-id/} or
 * the root, so it may deliver its own change before it answers.
 */
final class NameInvalidator {
    private static final long ROOT_ID = 1;
    private static final String ROOT = "/";

    /** Node ids of directories by mount path. Bounded by the directories there are. */
    private final Map<String, Long> directories = new ConcurrentHashMap<>();
    private final Queue<StaleName> pending = new ConcurrentLinkedQueue<>();
    /** Serializes deliveries, so a delivery that returns has sent everything queued before it. */
    private final Object delivering = new Object();
    private volatile LibFuseSession lib;
    private volatile Pointer channel;

    /** Starts sending; until then names are only queued (nothing is mounted to tell). */
    void attach(LibFuseSession lib, Pointer channel) {
        this.channel = channel;
        this.lib = lib; // last: a non-null lib means the channel is set
    }

    /** Remembers that the directory at {@code path} is node {@code nodeId} for the kernel. */
    void learn(String path, long nodeId) {
        if (nodeId != 0 && !Objects.equals(directories.get(path), nodeId)) {
            directories.put(path, nodeId);
        }
    }

    /** Takes note of stale names; called with the catalog's lock held, so it only queues. */
    void stale(List<StaleName> names) {
        pending.addAll(names);
    }

    /** Sends every queued name to the kernel; returns when the kernel has dropped them. */
    void deliver() {
        synchronized (delivering) {
            for (StaleName n = pending.poll(); n != null; n = pending.poll()) {
                send(n);
            }
        }
    }

    private void send(StaleName n) {
        boolean inRoot = n.directory().equals(ROOT);
        if (inRoot) {
            // an image directory goes with everything below it: those ids are the kernel's no more
            String dir = ROOT + n.name();
            directories.keySet().removeIf(p -> p.equals(dir) || p.startsWith(dir + "/"));
        }
        Long parent = inRoot ? Long.valueOf(ROOT_ID) : directories.get(n.directory());
        LibFuseSession l = lib;
        if (l == null || parent == null) {
            return;
        }
        byte[] name = (n.name() + "\0").getBytes(StandardCharsets.UTF_8);
        // ENOENT (nothing cached under that name, or the directory forgotten) is the usual answer
        l.fuse_lowlevel_notify_inval_entry(channel, parent, name, name.length - 1);
    }
}
