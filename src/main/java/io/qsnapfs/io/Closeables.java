package io.qsnapfs.io;

import java.io.Closeable;
import java.io.IOException;

/** Closing what is open when something has already failed. */
public final class Closeables {
    private Closeables() {
    }

    /** Closes what is not null, ignoring errors: the first error is the one worth reporting. */
    public static void closeQuietly(Closeable... closeables) {
        for (Closeable c : closeables) {
            if (c != null) {
                try {
                    c.close();
                } catch (IOException | RuntimeException ignored) {
                    // already failing, or closing for good
                }
            }
        }
    }
}
