package io.qsnapfs.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * A virtual disk as the code under test reads it, for {@link Oracle} to compare with what QEMU
 * reads: its size and positional reads. The testing layer knows the code under test only through
 * this interface and {@link Image}, so it does not depend on where that code keeps its classes;
 * the tests that use the oracle adapt the code under test to it.
 */
public interface Disk {
    /** The disk's size in bytes. */
    long size();

    /**
     * Fills {@code dst} from its position with the disk's bytes from {@code offset} on, stopping at
     * the end of the disk; advances the position and returns the number of bytes read (0 at or past
     * the end).
     */
    int read(long offset, ByteBuffer dst) throws IOException;

    /** An image opened by the code under test: its snapshots and the disks it reads. */
    interface Image extends AutoCloseable {
        /** The ID and name of each snapshot, in table order. */
        List<Qemu.Listed> snapshots();

        /** The disk of snapshot {@code index} of {@link #snapshots()}. */
        Disk snapshot(int index);

        /** The disk of the active layer. */
        Disk active();

        @Override
        void close();
    }
}
