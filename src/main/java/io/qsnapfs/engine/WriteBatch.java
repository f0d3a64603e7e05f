package io.qsnapfs.engine;

import io.qsnapfs.engine.MetadataGuard.Structure;
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
 * <p>The writes are made by the file's write thread ({@link ImageFile#writeLater}), a chunk of
 * {@value #CHUNK} bytes at a time as they come, while the caller goes on working out the rest of
 * the step and the next; the file keeps every write in the order the operation made it (a direct
 * write or a sync waits for what is queued). Memory: what was added and not yet handed over (one
 * chunk), and the chunks the thread has not written yet (at most four: the file makes the fifth
 * wait).
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

    WriteBatch(MetadataGuard guard, ImageFile file) {
        this.guard = guard;
        this.file = file;
    }

    /**
     * Adds a write of {@code data} at {@code offset} meant for the structure {@code kind} at
     * {@code structure} ({@link MetadataGuard#ANY}: any of that kind). The batch keeps {@code data}:
     * the caller must not change it afterwards.
     *
     * @throws ImageException CORRUPT when the write would land on another structure: nothing of it
     *         is written (earlier chunks of the step may be)
     */
    public void add(Structure kind, long structure, long offset, ByteBuffer data) {
        try {
            guard.check(kind, structure, offset, data.remaining());
        } catch (ImageException refused) {
            try {
                file.drainWrites(); // nothing of the step may still be writing once the operation has failed
            } catch (RuntimeException alsoFailed) {
                refused.addSuppressed(alsoFailed);
            }
            throw refused;
        }
        pending.add(new Pending(offset, data, structure == MetadataGuard.ANY ? kind.words() + "s" : "the " + kind.words()));
        pendingBytes += data.remaining();
        if (pendingBytes > CHUNK) {
            handOver();
        }
    }

    /**
     * Ends the step: everything added goes to the file's write thread, in offset order with
     * neighbours merged, ahead of any later write; the next sync waits for it.
     */
    public void write() {
        handOver();
    }

    private void handOver() {
        List<Pending> chunk = pending;
        pending = new ArrayList<>();
        pendingBytes = 0;
        if (!chunk.isEmpty()) {
            file.writeLater(() -> writeOut(chunk));
        }
    }

    /** Writes {@code writes} in offset order, neighbours merged. */
    private void writeOut(List<Pending> writes) {
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
                file.writeNow(first.offset(), first.data(), first.what());
            } else {
                ByteBuffer run = ByteBuffer.allocate((int) length);
                for (int k = i; k < j; k++) {
                    run.put(writes.get(k).data());
                }
                file.writeNow(first.offset(), run.flip(), first.what() + " and " + (j - i - 1) + " more");
            }
            i = j;
        }
    }
}
