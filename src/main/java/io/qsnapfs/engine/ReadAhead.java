package io.qsnapfs.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One reader of a {@link BlockSource} that notices sequential reading and keeps the host files'
 * page cache filled ahead of it. FUSE delivers a sequential stream as 128 KiB requests on several
 * threads, slightly out of order, which defeats the kernel's own readahead on the image file;
 * without this, cold reads run at about half the speed of the disk.
 */
public final class ReadAhead {
    /** How far ahead of the reader to keep the host data coming. */
    static final long WINDOW = 32L << 20;
    /** How far out of order a request may arrive and still count as sequential. */
    static final long SLACK = 4L << 20;

    /**
     * Submitting readahead can block while the disk queue is full, so hints are given on a thread
     * of their own, never on the reader's. Excess hints are dropped, not queued without bound.
     */
    private static final Executor HINTS = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(64), r -> {
                Thread t = new Thread(r, "qsnapfs-readahead");
                t.setDaemon(true);
                return t;
            }, new ThreadPoolExecutor.DiscardPolicy());

    private final BlockSource source;
    private long expected = -1;
    private long prefetchedUntil;

    public ReadAhead(BlockSource source) {
        this.source = source;
    }

    public BlockSource source() {
        return source;
    }

    /** Like {@link BlockSource#read}, prefetching when the reads form a sequential stream. */
    public int read(long offset, ByteBuffer dst) throws IOException {
        long end = offset + dst.remaining();
        long from = 0;
        long to = 0;
        synchronized (this) {
            boolean sequential = expected < 0 ? offset == 0 : Math.abs(offset - expected) <= SLACK;
            expected = Math.max(expected, end);
            if (sequential && end + WINDOW / 2 > prefetchedUntil) {
                from = Math.max(prefetchedUntil, end);
                to = end + WINDOW;
                prefetchedUntil = to;
            }
        }
        if (to > from) {
            long start = from;
            long length = to - from;
            HINTS.execute(() -> source.prefetch(start, length));
        }
        return source.read(offset, dst);
    }
}
