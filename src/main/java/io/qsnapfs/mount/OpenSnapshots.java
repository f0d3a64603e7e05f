package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Which snapshot files are open through the mount, and the fences that requests put up against
 * them. A snapshot is known by its image and the offset of its own L1 table, which no two live
 * snapshots of an image share.
 *
 * <p>A delete fences the snapshot it removes and an apply fences every snapshot of its image: the
 * fence fails with BUSY while such a file is open, and while it stands, opening such a file fails
 * with BUSY. The kernel sends the release of a closed file asynchronously, so a fence waits
 * {@link #RELEASE_WAIT_MILLIS} for files that are just being closed before it gives up.
 */
final class OpenSnapshots {
    /** How long a fence waits for open files to be released. */
    static final long RELEASE_WAIT_MILLIS = 250;

    /** A taken reference or fence; closing it gives it back. */
    interface Hold extends AutoCloseable {
        @Override
        void close();
    }

    /** Open counts by image, then by L1 table offset. */
    private final Map<String, Map<Long, Integer>> open = new HashMap<>();
    private final Map<String, Set<Long>> fenced = new HashMap<>();
    private final Set<String> fencedImages = new HashSet<>();

    /** Counts one more open file of a snapshot; BUSY when a request has fenced it. */
    synchronized Hold acquire(String image, long l1Offset, String what) {
        if (fencedImages.contains(image) || fenced.getOrDefault(image, Set.of()).contains(l1Offset)) {
            throw new ImageException(ImageException.Kind.BUSY, what + ": a request is changing the image");
        }
        open.computeIfAbsent(image, k -> new HashMap<>()).merge(l1Offset, 1, Integer::sum);
        return () -> release(image, l1Offset);
    }

    private synchronized void release(String image, long l1Offset) {
        Map<Long, Integer> counts = open.get(image);
        if (counts.merge(l1Offset, -1, Integer::sum) == 0) {
            counts.remove(l1Offset);
            if (counts.isEmpty()) {
                open.remove(image);
            }
        }
        notifyAll();
    }

    /** Fences the given snapshots of an image; BUSY when one stays open. */
    synchronized Hold fence(String image, Set<Long> l1Offsets, String what) {
        awaitClosed(image, l1Offsets, what);
        Set<Long> set = fenced.computeIfAbsent(image, k -> new HashSet<>());
        set.addAll(l1Offsets);
        return () -> unfence(image, l1Offsets);
    }

    /** Fences every snapshot of an image; BUSY when any stays open. */
    synchronized Hold fenceImage(String image, String what) {
        awaitClosed(image, null, what);
        fencedImages.add(image);
        return () -> {
            synchronized (this) {
                fencedImages.remove(image);
            }
        };
    }

    private synchronized void unfence(String image, Set<Long> l1Offsets) {
        Set<Long> set = fenced.get(image);
        set.removeAll(l1Offsets);
        if (set.isEmpty()) {
            fenced.remove(image);
        }
    }

    /** How many of the snapshots (null: all of the image) are open now. */
    synchronized int openCount(String image, Set<Long> l1Offsets) {
        int n = 0;
        for (Map.Entry<Long, Integer> e : open.getOrDefault(image, Map.of()).entrySet()) {
            if (l1Offsets == null || l1Offsets.contains(e.getKey())) {
                n += e.getValue();
            }
        }
        return n;
    }

    private void awaitClosed(String image, Set<Long> l1Offsets, String what) {
        long deadline = System.nanoTime() + RELEASE_WAIT_MILLIS * 1_000_000;
        int n;
        while ((n = openCount(image, l1Offsets)) > 0) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw new ImageException(ImageException.Kind.BUSY, what + ": " + n
                        + (n == 1 ? " file is" : " files are") + " open through the mount");
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ImageException(ImageException.Kind.BUSY, what + ": interrupted");
            }
        }
    }
}
