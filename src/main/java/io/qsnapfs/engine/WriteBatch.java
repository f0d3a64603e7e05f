package io.qsnapfs.engine;

import io.qsnapfs.engine.MetadataGuard.Structure;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Metadata writes of one step, written together: each is checked by the {@link MetadataGuard}
 * when it is added (a refused write stops the step before any of it reaches the file), and
 * {@link #write()} puts them out in offset order, writes to neighbouring bytes merged into one
 * write of up to {@value #MAX_RUN} bytes. A step's writes are those with no sync between them and
 * no order among them that crash safety relies on (say, every L2 table whose COPIED flags change);
 * the caller writes one batch before starting the next and syncs where the order says.
 *
 * <p>Memory: the batch holds what was added until it is written, and writes early once it holds
 * more than {@value #MAX_PENDING} bytes (still one step: the order inside it never mattered).
 */
public final class WriteBatch {
    /** Largest single write. */
    static final int MAX_RUN = 1 << 20;
    /** Bytes held before the batch writes what it has. */
    static final long MAX_PENDING = 16L << 20;

    /** One write: the bytes for {@code offset} and the words that name what they are. */
    private record Pending(long offset, ByteBuffer data, String what) {
        long end() {
            return offset + data.remaining();
        }
    }

    private final MetadataGuard guard;
    private final ImageFile file;
    private final List<Pending> pending = new ArrayList<>();
    private long pendingBytes;

    WriteBatch(MetadataGuard guard, ImageFile file) {
        this.guard = guard;
        this.file = file;
    }

    /**
     * Adds a write of {@code data} at {@code offset} meant for the structure {@code kind} at
     * {@code structure} ({@link MetadataGuard#ANY}: any of that kind). The batch keeps {@code data}:
     * the caller must not change it until {@link #write()}.
     *
     * @throws ImageException CORRUPT when the write would land on another structure; nothing of the
     *         batch is written then
     */
    public void add(Structure kind, long structure, long offset, ByteBuffer data) {
        guard.check(kind, structure, offset, data.remaining());
        pending.add(new Pending(offset, data, structure == MetadataGuard.ANY ? kind.words() + "s" : "the " + kind.words()));
        pendingBytes += data.remaining();
        if (pendingBytes > MAX_PENDING) {
            write();
        }
    }

    /** Writes everything added so far (no sync), in offset order, neighbours merged. */
    public void write() {
        pending.sort(Comparator.comparingLong(Pending::offset));
        int i = 0;
        while (i < pending.size()) {
            Pending first = pending.get(i);
            int j = i + 1;
            long length = first.data().remaining();
            while (j < pending.size() && pending.get(j).offset() == pending.get(j - 1).end()
                    && length + pending.get(j).data().remaining() <= MAX_RUN) {
                length += pending.get(j).data().remaining();
                j++;
            }
            if (j == i + 1) {
                file.write(first.offset(), first.data(), first.what());
            } else {
                ByteBuffer run = ByteBuffer.allocate((int) length);
                for (int k = i; k < j; k++) {
                    run.put(pending.get(k).data());
                }
                file.write(first.offset(), run.flip(), first.what() + " and " + (j - i - 1) + " more");
            }
            i = j;
        }
        pending.clear();
        pendingBytes = 0;
    }
}
