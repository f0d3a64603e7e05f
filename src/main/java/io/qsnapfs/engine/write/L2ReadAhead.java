package io.qsnapfs.engine.write;

import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.io.Threads;

/**
 * The L2 tables a walk of an L1 table is about to read, read on a second thread a bounded distance
 * ahead of it, so that the walk's core counts references while the other core makes the system
 * calls (and, on a cold cache, waits for the disk). Only a head start: the walk takes a table from
 * here when it is ready and reads it itself when it is not, so what the walk reads, in which order,
 * and which error it meets where, are what they would be without it. A table this thread cannot
 * read (a read error, a table past the end of the file) ends it quietly; the walk meets the error
 * itself, at the same table.
 *
 * <p>Memory: at most {@code ahead} tables read and not yet taken.
 */
final class L2ReadAhead implements AutoCloseable {
    private final ImageFile file;
    private final long fileLength;
    private final int entries;
    private final int ahead;
    /** By L1 index: the offset of the table to read there, or 0 for none. */
    private final long[] offsets;
    /** The tables read and not yet taken, by L1 index. Guarded by this. */
    private final long[][] tables;
    /** The L1 indexes below this one the walk has passed. Guarded by this. */
    private int passed;
    /** While the thread waits for room: the {@link #passed} it waits for (half its lead). Guarded by this. */
    private int wakeAt = Integer.MAX_VALUE;
    private boolean closed;
    private final Thread thread;

    /**
     * Starts reading the tables at {@code offsets} (by L1 index, 0 where there is none to read), each
     * of {@code entries} words, at most {@code ahead} L1 indexes ahead of the walk.
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
        for (int k = 0; k < offsets.length; k++) {
            if (offsets[k] == 0) {
                continue;
            }
            synchronized (this) {
                if (k - passed >= ahead) { // woken once half the lead is passed, not at every table
                    wakeAt = k - ahead / 2;
                    while (!closed && passed < wakeAt) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    wakeAt = Integer.MAX_VALUE;
                }
                if (closed) {
                    return;
                }
                if (k < passed) {
                    continue; // the walk read it itself
                }
            }
            long[] table;
            try {
                table = file.readL2(offsets[k], fileLength, new long[entries]);
            } catch (RuntimeException e) {
                return; // the walk meets it itself
            }
            synchronized (this) {
                if (k >= passed) {
                    tables[k] = table;
                }
            }
        }
    }

    /**
     * The walk is at L1 index {@code index}, past every one below: the table read there, else null
     * (not read yet, or none to read: the walk reads it itself).
     */
    synchronized long[] take(int index) {
        for (int k = passed; k < index; k++) {
            tables[k] = null; // the walk did not need it (it had the table in memory)
        }
        long[] table = tables[index];
        tables[index] = null;
        passed = Math.max(passed, index + 1);
        if (passed >= wakeAt) {
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
