package io.qsnapfs.engine;

import io.qsnapfs.engine.MetadataGuard.Structure;
import io.qsnapfs.io.Threads;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Metadata writes of one step, written together: each is checked by the {@link MetadataGuard}
 * when it is added (a refused write stops the step before it reaches the file), and they go out in
 * offset order, writes to neighbouring bytes merged into one write of up to {@value #MAX_RUN}
 * bytes. A step's writes are those with no sync between them and no order among them that crash
 * safety relies on (say, every L2 table whose COPIED flags change); the caller ends the step with
 * {@link #write()} before it starts the next, and syncs where its order says.
 *
 * <p>Once more than {@value #CHUNK} bytes are waiting, a thread of the batch writes them while the
 * caller goes on working out the rest of the step, and has the kernel start writing them to the
 * disk ({@link ImageFile#startWriteback}), so the sync that ends the step finds less to wait for.
 * Still one step: the order inside it never mattered. {@link #write()} returns when all is
 * written. Memory: what was added and not yet written, at most about two chunks.
 */
public final class WriteBatch {
    /** Largest single write. */
    static final int MAX_RUN = 1 << 20;
    /** Bytes collected before they are handed to the writing thread. */
    static final long CHUNK = 4L << 20;

    /** One write: the bytes for {@code offset} and the words that name what they are. */
    private record Pending(long offset, ByteBuffer data, String what) {
        long end() {
            return offset + data.remaining();
        }
    }

    private final MetadataGuard guard;
    private final ImageFile file;
    private List<Pending> pending = new ArrayList<>();
    private long pendingBytes;
    /** The thread writing the previous chunk, or null. */
    private Thread writer;
    /** What stopped the writing thread, thrown by the next {@link #write()} or hand-over. */
    private volatile RuntimeException failure;

    WriteBatch(MetadataGuard guard, ImageFile file) {
        this.guard = guard;
        this.file = file;
    }

    /**
     * Adds a write of {@code data} at {@code offset} meant for the structure {@code kind} at
     * {@code structure} ({@link MetadataGuard#ANY}: any of that kind). The batch keeps {@code data}:
     * the caller must not change it until {@link #write()}.
     *
     * @throws ImageException CORRUPT when the write would land on another structure: nothing of it
     *         is written (earlier writes of the step may be)
     */
    public void add(Structure kind, long structure, long offset, ByteBuffer data) {
        try {
            guard.check(kind, structure, offset, data.remaining());
        } catch (ImageException refused) {
            try {
                awaitWriter(); // nothing of the step may still be writing once the operation has failed
            } catch (RuntimeException alsoFailed) {
                refused.addSuppressed(alsoFailed);
            }
            throw refused;
        }
        pending.add(new Pending(offset, data, structure == MetadataGuard.ANY ? kind.words() + "s" : "the " + kind.words()));
        pendingBytes += data.remaining();
        if (pendingBytes > CHUNK) {
            awaitWriter();
            List<Pending> chunk = pending;
            pending = new ArrayList<>();
            pendingBytes = 0;
            writer = new Thread(() -> {
                try {
                    writeOut(chunk, true);
                } catch (RuntimeException e) {
                    failure = e;
                }
            }, "qsnapfs-write");
            writer.setDaemon(true);
            writer.start();
        }
    }

    /** Writes everything added so far (no sync), in offset order, neighbours merged; returns when it is written. */
    public void write() {
        awaitWriter();
        writeOut(pending, false);
        pending = new ArrayList<>();
        pendingBytes = 0;
    }

    /** Waits for the writing thread, and throws what stopped it. */
    private void awaitWriter() {
        Thread t = writer;
        writer = null;
        Threads.joinUninterruptibly(t);
        RuntimeException e = failure;
        if (e != null) {
            failure = null;
            throw e;
        }
    }

    /** Writes {@code writes} in offset order, neighbours merged; with {@code early}, starts their write-out. */
    private void writeOut(List<Pending> writes, boolean early) {
        writes.sort(Comparator.comparingLong(Pending::offset));
        int i = 0;
        while (i < writes.size()) {
            Pending first = writes.get(i);
            int j = i + 1;
            long length = first.data().remaining();
            while (j < writes.size() && writes.get(j).offset() == writes.get(j - 1).end()
                    && length + writes.get(j).data().remaining() <= MAX_RUN) {
                length += writes.get(j).data().remaining();
                j++;
            }
            if (j == i + 1) {
                file.write(first.offset(), first.data(), first.what());
            } else {
                ByteBuffer run = ByteBuffer.allocate((int) length);
                for (int k = i; k < j; k++) {
                    run.put(writes.get(k).data());
                }
                file.write(first.offset(), run.flip(), first.what() + " and " + (j - i - 1) + " more");
            }
            i = j;
        }
        if (early && !writes.isEmpty()) {
            long from = writes.get(0).offset();
            file.startWriteback(from, writes.get(writes.size() - 1).end() - from);
        }
    }
}
