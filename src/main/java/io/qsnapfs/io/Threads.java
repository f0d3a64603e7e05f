package io.qsnapfs.io;

/** Waiting for the helper threads an operation starts (read-ahead, writing). */
public final class Threads {
    private Threads() {
    }

    /**
     * Waits until {@code t} (if not null) has ended, even when interrupted meanwhile: the thread
     * still uses what the caller is about to close. The interrupt is kept for the caller.
     */
    public static void joinUninterruptibly(Thread t) {
        if (t == null) {
            return;
        }
        boolean interrupted = false;
        while (t.isAlive()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
