package io.qsnapfs.mount;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.QcowImage;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The qcow2 images of one directory, kept current. Images are found by their magic, not by a
 * suffix. The directory is listed again, and each image's metadata checked again, when the last
 * look is older than {@link #REFRESH_NANOS}, so images and snapshots added or removed by other
 * programs show up without remounting. A cheap {@code stat} decides whether an image may have
 * changed; only then is its header and snapshot table compared, and only a real change reopens it.
 * Images that cannot be read are left out and logged once per state of the file.
 *
 * <p>Every replacement of an image's handle (a request reopened it, another program changed it,
 * the image appeared or went) is told to a listener as the names it makes stale, so the kernel's
 * cached names can be dropped ({@link #onStaleNames}). The listener is called with the catalog's
 * lock held: it must only take note.
 */
public final class ImageCatalog implements Closeable {
    /** How old a look at the directory or an image may be before it is taken again. */
    public static final long REFRESH_NANOS = 500_000_000L;
    /** How often, and how far apart, an open that may have met a writer at work is tried. */
    private static final int OPEN_ATTEMPTS = 5;
    private static final long RETRY_MILLIS = 10;

    private final Path dir;
    private final RequestLog log;
    private final Map<String, ImageHandle> images = new TreeMap<>();
    /** Files known not to be servable in a given state: not qcow2, or failed to open. */
    private final Map<String, FileState> skipped = new HashMap<>();
    private long scannedNanos;
    private boolean scanned;
    private Consumer<List<StaleName>> staleNames = names -> { };

    public ImageCatalog(Path dir, RequestLog log) {
        this.dir = dir;
        this.log = log;
    }

    public Path directory() {
        return dir;
    }

    /** Sets who hears of names made stale; it must not block or call back into the catalog. */
    public synchronized void onStaleNames(Consumer<List<StaleName>> listener) {
        this.staleNames = listener;
    }

    /**
     * Looks at the directory and every image again where the last look is older than the refresh
     * interval, so that changes by other programs are noticed even while nothing asks.
     */
    public synchronized void refresh() {
        scanIfStale();
        for (Map.Entry<String, ImageHandle> e : new ArrayList<>(images.entrySet())) {
            if (System.nanoTime() - e.getValue().checkedNanos > REFRESH_NANOS) {
                revalidate(e.getKey(), e.getValue());
            }
        }
    }

    /** The names of the servable images, sorted. */
    public synchronized List<String> names() {
        scanIfStale();
        return new ArrayList<>(images.keySet());
    }

    /**
     * The current handle of an image, checked against the file if the last check is stale, or
     * null when there is no such servable image. The handle is not retained: use it for metadata
     * only, or {@link ImageHandle#retain()} it before reading.
     */
    public synchronized ImageHandle get(String name) {
        scanIfStale();
        ImageHandle h = images.get(name);
        if (h != null && System.nanoTime() - h.checkedNanos > REFRESH_NANOS) {
            h = revalidate(name, h);
        }
        return h;
    }

    /**
     * Opens an image again now, whatever the last check says: after a request changed it, the new
     * state must show at once, not after the refresh interval. Returns the new handle, or null when
     * the image is gone or cannot be served any more (then logged like any skipped image).
     */
    public synchronized ImageHandle reopen(String name) {
        ImageHandle h = images.remove(name);
        if (h != null) {
            h.release();
        }
        skipped.remove(name);
        Path path = dir.resolve(name);
        return replaced(name, h, Files.isRegularFile(path) ? tryOpen(name, path, h != null) : null);
    }

    /** Tells the listener what replacing {@code before} by {@code after} made stale; returns {@code after}. */
    private ImageHandle replaced(String name, ImageHandle before, ImageHandle after) {
        List<StaleName> stale = StaleName.between(name, before, after);
        if (!stale.isEmpty()) {
            staleNames.accept(stale);
        }
        return after;
    }

    /** True while {@code h} is the handle the catalog serves for its image. */
    public synchronized boolean isCurrent(ImageHandle h) {
        return images.get(h.name()) == h;
    }

    private void scanIfStale() {
        if (scanned && System.nanoTime() - scannedNanos <= REFRESH_NANOS) {
            return;
        }
        scanned = true;
        scannedNanos = System.nanoTime();
        Map<String, Path> present = new HashMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (Files.isRegularFile(p)) {
                    present.put(name, p);
                }
            }
        } catch (IOException e) {
            log.add("cannot list " + dir + ": " + e.getMessage());
            return;
        }
        images.keySet().removeIf(name -> {
            if (!present.containsKey(name)) {
                ImageHandle gone = images.get(name);
                gone.release();
                replaced(name, gone, null);
                return true;
            }
            return false;
        });
        skipped.keySet().retainAll(present.keySet());
        for (Map.Entry<String, Path> e : present.entrySet()) {
            String name = e.getKey();
            ImageHandle h = images.get(name);
            if (h != null) {
                if (System.nanoTime() - h.checkedNanos > REFRESH_NANOS) {
                    revalidate(name, h);
                }
            } else {
                replaced(name, null, tryOpen(name, e.getValue(), false));
            }
        }
    }

    /** Re-checks one image; returns its current handle or null if it is gone or unreadable now. */
    private ImageHandle revalidate(String name, ImageHandle h) {
        Path path = dir.resolve(name);
        h.checkedNanos = System.nanoTime();
        try {
            FileState now = FileState.of(path);
            if (now.equals(h.state)) {
                return h;
            }
            if (Objects.equals(now.inode(), h.state.inode()) && h.sameMetadata(path)) {
                h.state = now;
                return h;
            }
        } catch (IOException | RuntimeException e) {
            // fall through: reopen, which reports the problem if there is one
        }
        images.remove(name);
        h.release();
        return replaced(name, h, tryOpen(name, path, true));
    }

    /**
     * Opens an image and serves it, or leaves it out with a line in the log. Another program may be
     * writing the image's metadata while it is read here (a snapshot table switched and its old
     * clusters reused between the read of the header and the read of the table): an open that
     * fails while the file changed under it, or of an image that was being served until now, is
     * tried again after a moment before the image is left out.
     */
    private ImageHandle tryOpen(String name, Path path, boolean wasServed) {
        for (int attempt = 1;; attempt++) {
            FileState state;
            try {
                state = FileState.of(path);
            } catch (IOException e) {
                return null;
            }
            if (state.equals(skipped.get(name))) {
                return null;
            }
            try {
                if (!QcowImage.hasMagic(path)) {
                    skipped.put(name, state);
                    return null;
                }
                ImageHandle h = ImageHandle.open(name, path, state);
                images.put(name, h);
                skipped.remove(name);
                return h;
            } catch (ImageException | IOException e) {
                if (attempt < OPEN_ATTEMPTS && (wasServed || changedSince(path, state))) {
                    pause();
                    continue;
                }
                skipped.put(name, state);
                log.add("skipped " + (e instanceof ImageException ? e.getMessage() : name + ": " + e.getMessage()));
                return null;
            }
        }
    }

    private static boolean changedSince(Path path, FileState state) {
        try {
            return !FileState.of(path).equals(state);
        } catch (IOException e) {
            return false;
        }
    }

    private static void pause() {
        try {
            Thread.sleep(RETRY_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public synchronized void close() {
        for (ImageHandle h : images.values()) {
            h.release();
        }
        images.clear();
    }
}
