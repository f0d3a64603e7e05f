package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.check.ExclusiveClusters;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One opened image as the mount shows it: the {@link QcowImage}, the snapshot and VM state files
 * it yields, and a fingerprint of the metadata those files depend on. Reference counted: the
 * catalog holds one reference while the handle is current, and every open snapshot or VM state
 * file holds one, so an image replaced after an outside change stays open until the last reader
 * lets go.
 */
public final class ImageHandle {
    /** Held while exclusive bytes are counted: one count at a time in the mount. */
    private static final ReentrantLock COUNTING = new ReentrantLock();
    /**
     * How long a request waits for another count to end before it answers BUSY: a count of a
     * large snapshot takes seconds, and requests parked meanwhile would take the workers every
     * other reader of the mount needs.
     */
    private static final long COUNT_WAIT_MS = 2000;
    /** Fingerprint bytes read from the start of the file: the header and its extensions. */
    private static final int HEADER_FINGERPRINT = 64 * 1024;

    private final String name;
    private final QcowImage image;
    private final byte[] fingerprint;
    private final Map<String, SnapshotEntry> byName;
    private final Map<String, SnapshotEntry> byId;
    private final Map<String, SnapshotEntry> vmStates;
    private final AtomicInteger references = new AtomicInteger(1);
    /** Exclusive bytes of the snapshots asked about so far, counted in this state of the image. */
    private final Map<SnapshotEntry, Long> exclusive = new ConcurrentHashMap<>();
    volatile FileState state;
    volatile long checkedNanos;

    private ImageHandle(String name, QcowImage image, byte[] fingerprint, FileState state) {
        this.name = name;
        this.image = image;
        this.fingerprint = fingerprint;
        this.state = state;
        this.checkedNanos = System.nanoTime();
        Map<String, Integer> nameCount = new HashMap<>();
        for (SnapshotEntry s : image.snapshots()) {
            String f = SnapshotNames.fileName(s.name());
            if (f != null) {
                nameCount.merge(f, 1, Integer::sum);
            }
        }
        Map<String, SnapshotEntry> names = new LinkedHashMap<>();
        Map<String, SnapshotEntry> ids = new LinkedHashMap<>();
        Map<String, SnapshotEntry> vmIds = new LinkedHashMap<>();
        for (SnapshotEntry s : image.snapshots()) {
            String f = SnapshotNames.fileName(s.name());
            if (f != null && nameCount.get(f) == 1) {
                names.put(f, s);
            }
            String i = SnapshotNames.fileName(s.id());
            if (i != null) {
                ids.putIfAbsent(i, s);
            }
            String v = SnapshotNames.fileName(s.id(), SnapshotNames.VM_STATE_SUFFIX);
            if (v != null) {
                vmIds.putIfAbsent(v, s); // the snapshot by-id/ID.raw is: the first with that ID
            }
        }
        vmIds.values().removeIf(s -> s.vmStateSize() <= 0);
        this.byName = Collections.unmodifiableMap(names);
        this.byId = Collections.unmodifiableMap(ids);
        this.vmStates = Collections.unmodifiableMap(vmIds);
    }

    /** Opens the image at {@code path}; throws ImageException when it cannot be served. */
    static ImageHandle open(String name, Path path, FileState state) throws IOException {
        QcowImage image = QcowImage.open(path);
        try {
            return new ImageHandle(name, image, fingerprint(path, image), state);
        } catch (IOException | RuntimeException e) {
            image.close();
            throw e;
        }
    }

    /**
     * The bytes whose change means the snapshot files may have changed: the header area and the
     * whole snapshot table. Data writes by a running VM touch neither, so they cause no reopen.
     */
    static byte[] fingerprint(Path path, QcowImage image) throws IOException {
        try (PositionalFile file = PositionalFile.openReadOnly(path)) {
            int headerBytes = (int) Math.min(Math.min(file.size(), image.header().clusterSize()), HEADER_FINGERPRINT);
            int tableBytes = 0;
            for (SnapshotEntry s : image.snapshots()) {
                tableBytes += s.encodedLength();
            }
            ByteBuffer b = ByteBuffer.allocate(headerBytes + tableBytes);
            file.readFully(0, b.slice(0, headerBytes));
            if (tableBytes > 0) {
                file.readFully(image.header().snapshotsOffset(), b.slice(headerBytes, tableBytes));
            }
            return b.array();
        }
    }

    /** True when the file's metadata still matches what this handle was opened from. */
    boolean sameMetadata(Path path) throws IOException {
        return Arrays.equals(fingerprint, fingerprint(path, image));
    }

    public String name() {
        return name;
    }

    public QcowImage image() {
        return image;
    }

    /** Snapshot files under {@code snapshots/}: unique, safe names only. */
    public Map<String, SnapshotEntry> byName() {
        return byName;
    }

    /** Snapshot files under {@code by-id/}. */
    public Map<String, SnapshotEntry> byId() {
        return byId;
    }

    /**
     * VM state files under {@code vm-state/}: {@code ID.vmstate} for the snapshot {@code
     * by-id/ID.raw} names, when it has VM state (a {@code savevm} snapshot; a vm_state_size of
     * 2^63 or more, which no file can have, counts as none).
     */
    public Map<String, SnapshotEntry> vmStates() {
        return vmStates;
    }

    /**
     * The bytes deleting {@code snapshot} alone would free ({@link ExclusiveClusters}), counted the
     * first time they are asked for and then kept as long as this handle serves the image: a new
     * handle comes with every change of the header or the snapshot table, not with a running VM's
     * data writes, which can only make a snapshot's exclusive clusters more (as the VM overwrites
     * clusters it shares) until the next such change. One count runs at a time in the whole mount,
     * so their memory (a window of references each) stays bounded however many are asked for.
     *
     * @throws ImageException BUSY when the handle was closed meanwhile (the image changed);
     *         NOT_FOUND when the snapshot is gone from the file; CORRUPT when its tables cannot be
     *         counted; IO
     */
    public long exclusiveBytes(SnapshotEntry snapshot) {
        Long known = exclusive.get(snapshot);
        if (known != null) {
            return known;
        }
        boolean locked;
        try {
            locked = COUNTING.tryLock(COUNT_WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            locked = false;
        }
        if (!locked) {
            throw new ImageException(ImageException.Kind.BUSY, name + ": snapshot " + snapshot.idString()
                    + ": another snapshot's exclusive bytes are being counted; try again");
        }
        try {
            known = exclusive.get(snapshot);
            if (known != null) {
                return known;
            }
            if (!retain()) {
                throw new ImageException(ImageException.Kind.BUSY, name + ": the image changed while snapshot "
                        + snapshot.idString() + " was to be counted; try again");
            }
            try {
                long bytes = ExclusiveClusters.of(image.imageFile()).bytes(snapshot);
                exclusive.put(snapshot, bytes);
                return bytes;
            } finally {
                release();
            }
        } finally {
            COUNTING.unlock();
        }
    }

    /** Takes a reference; false when the handle is already closed. */
    public boolean retain() {
        while (true) {
            int n = references.get();
            if (n == 0) {
                return false;
            }
            if (references.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Drops a reference; the image is closed with the last one. */
    public void release() {
        if (references.decrementAndGet() == 0) {
            image.close();
        }
    }
}
