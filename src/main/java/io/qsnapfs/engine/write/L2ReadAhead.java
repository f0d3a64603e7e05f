package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.io.Threads;

/**
 * The L2 tables a walk is about to read, read on a second thread a bounded distance ahead of it, so
 * that the walk's core counts references while the other core makes the system calls (and, on a
 * cold cache, waits for the disk). Only a head start: the walk takes a table from here when it is
 * ready and reads it itself when it is not, so what the walk reads, in which order, and which error
 * it meets where, are what they would be without it. A table this thread cannot read (a read
 * error, a table past the end of the file) ends it quietly; the walk meets the error itself, at the
 * same table.
 *
 * <p>Memory: at most {@code ahead} tables read and not yet taken.
 */
final class L2ReadAhead implements AutoCloseable {
    private final ImageFile file;
    private final long fileLength;
    private final int entries;
    private final int ahead;
    /** The offsets of the tables, in the order the walk reads them. */
    private final long[] offsets;
    /** The tables read and not yet taken, by position in {@link #offsets}. Guarded by this. */
    private final long[][] tables;
    /** Positions below this one the walk has passed, taking their table or reading it itself. Guarded by this. */
    private int taken;
    /** While the thread waits for room: the {@link #taken} it waits for (half its lead). Guarded by this. */
    private int wakeAt = Integer.MAX_VALUE;
    private boolean closed;
    private final Thread thread;

    /**
     * Starts reading the tables at {@code offsets} (in the walk's order), each of {@code entries}
     * words, keeping at most {@code ahead} of them that the walk has not taken.
     */
    L2ReadAhead(ImageFile file, long[] offsets, long fileLength, int entries, int ahead) {
        this.file = file;
        this.fileLength = fileLength;
        this.entries = entries;
        this.ahead = ahead;
        this.offsets = offsets;
        this.tables = new long[offsets.length][];
        this.thread = new Thread(this::readAll, "qsnapfs-read-ahead");
        thread.setDaemon(true);
        thread.start();
    }

    private void readAll() {
        int k = 0;
        while (true) {
            synchronized (this) {
                if (k - taken >= ahead) { // woken once half the lead is taken, not at every table
                    wakeAt = k - ahead / 2;
                    while (!closed && taken < wakeAt) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    wakeAt = Integer.MAX_VALUE;
                }
                k = Math.max(k, taken); // the walk read these itself
                if (closed || k >= offsets.length) {
                    return;
                }
            }
            long[] table;
            try {
                table = file.readL2(offsets[k], fileLength, new long[entries]);
            } catch (RuntimeException e) {
                return; // the walk meets it itself
            }
            synchronized (this) {
                if (k >= taken) {
                    tables[k] = table;
                }
            }
            k++;
        }
    }

    /**
     * The table at {@code offset} if it is the walk's next one and has been read, else null (the walk
     * then reads it itself). Either way the walk has passed it.
     */
    synchronized long[] take(long offset) {
        if (taken >= offsets.length || offsets[taken] != offset) {
            return null; // not one this thread reads (the walk reads it again, say)
        }
        long[] table = tables[taken];
        tables[taken++] = null;
        if (taken >= wakeAt) {
            notifyAll();
        }
        return table;
    }

    /** Stops the thread and waits for it: it reads nothing once the walk is over. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        Threads.joinUninterruptibly(thread);
    }
}
