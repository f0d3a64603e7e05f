package io.qsnapfs.mount;

import io.qsnapfs.mount.Node.DirKind;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The requests that just succeeded, shown as empty files in their request directory. {@code touch}
 * needs the name it created to exist afterwards (the kernel looks it up, then sets its times), and a
 * directory that fills up with every name ever requested would be no use; so a receipt lives while
 * the file made by the request is open and for {@link #LINGER_NANOS} after, longer than the kernel
 * keeps a looked-up name (1 s with libfuse 2), then it is gone.
 */
final class Receipts {
    /** How long a receipt outlives its last use. */
    static final long LINGER_NANOS = 2_000_000_000L;

    /** What a receipt is for: a name in one request directory of one image. */
    record Key(String image, DirKind kind, String name) {
    }

    /** One receipt; {@link #close()} ends one use of it. */
    final class Receipt implements AutoCloseable {
        final Key key;
        private long madeSec;
        private int opens;
        private long lastUseNanos;

        private Receipt(Key key) {
            this.key = key;
            this.madeSec = System.currentTimeMillis() / 1000;
            this.lastUseNanos = System.nanoTime();
        }

        /** When the request last succeeded, seconds since the epoch. */
        long madeSec() {
            synchronized (Receipts.this) {
                return madeSec;
            }
        }

        private boolean alive(long now) {
            return opens > 0 || now - lastUseNanos < LINGER_NANOS;
        }

        @Override
        public void close() {
            synchronized (Receipts.this) {
                opens--;
                lastUseNanos = System.nanoTime();
            }
        }
    }

    private final Map<Key, Receipt> receipts = new HashMap<>();

    /** Records a request that succeeded; the receipt is in use until closed. */
    synchronized Receipt made(Key key) {
        Receipt r = receipts.get(key);
        if (r == null) {
            r = new Receipt(key);
            receipts.put(key, r);
        }
        r.madeSec = System.currentTimeMillis() / 1000;
        r.lastUseNanos = System.nanoTime();
        r.opens++;
        return r;
    }

    /** The live receipt for a name, or null. */
    synchronized Receipt find(Key key) {
        Receipt r = receipts.get(key);
        if (r != null && !r.alive(System.nanoTime())) {
            receipts.remove(key);
            return null;
        }
        return r;
    }

    /** Takes one more use of the live receipt for a name; null when there is none. */
    synchronized Receipt use(Key key) {
        Receipt r = find(key);
        if (r != null) {
            r.opens++;
        }
        return r;
    }

    /** A request on this name failed: the name does not exist (any more). */
    synchronized void failed(Key key) {
        receipts.remove(key);
    }

    /** The names with live receipts in one request directory, sorted. */
    synchronized List<String> names(String image, DirKind kind) {
        long now = System.nanoTime();
        List<String> names = new ArrayList<>();
        for (Iterator<Receipt> it = receipts.values().iterator(); it.hasNext();) {
            Receipt r = it.next();
            if (!r.alive(now)) {
                it.remove();
            } else if (r.key.image().equals(image) && r.key.kind() == kind) {
                names.add(r.key.name());
            }
        }
        names.sort(null);
        return names;
    }
}
