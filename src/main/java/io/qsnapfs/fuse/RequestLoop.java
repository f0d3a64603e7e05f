package io.qsnapfs.fuse;

import com.kenai.jffi.MemoryIO;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import jnr.ffi.Pointer;

/**
 * Serves a mounted libfuse session on Java threads of our own. libfuse 2.9's {@code fuse_loop_mt}
 * ends a worker whenever more than ten are idle and starts new ones under load, and jffi attaches
 * each new native thread to the JVM (a new {@code java.lang.Thread}) for its first thousand
 * callbacks; here every callback arrives on a thread the JVM made, attached once for good.
 *
 * <p>The pool starts with one worker and grows by one whenever no worker has been waiting for the
 * next request for a millisecond ({@link #grow}), up to {@link #MAX_WORKERS}; it never shrinks.
 * FORGET and BATCH_FORGET do not count as work (a burst of them must not grow the pool). Several workers
 * receive on the one channel at once: a read of /dev/fuse hands each request to one reader.
 *
 * <p>Each worker keeps the opcode and node id of the request it is serving
 * ({@link #current()}), which libfuse's path-based callbacks do not see: a GETATTR of a node that
 * has an open file can then be answered from the open file, and the node ids of directories are
 * learnt for the kernel notifications that drop stale names.
 *
 * <p>The workers end when the kernel ends the connection (unmount, or an abort through fusectl):
 * every pending receive then returns 0. {@link #awaitWorkers} waits for that; only then may the
 * session be torn down.
 */
final class RequestLoop {
    static final int MAX_WORKERS = 64;
    /** How long no worker may be waiting for a request before the pool grows. */
    private static final long STARVED_NANOS = 1_000_000;
    static final int FUSE_LOOKUP = 1;
    static final int FUSE_FORGET = 2;
    static final int FUSE_GETATTR = 3;
    static final int FUSE_OPEN = 14;
    static final int FUSE_INIT = 26;
    static final int FUSE_READDIR = 28;
    static final int FUSE_BATCH_FORGET = 42;
    /** fuse_buf.flags: the request is still in a pipe (splice_read), its header not in memory. */
    private static final int FUSE_BUF_IS_FD = 1 << 1;
    private static final int EINTR = 4;
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private final LibFuseSession lib;
    private final jnr.ffi.Runtime runtime;
    private final Pointer session;
    private final Pointer channel;
    private final long bufferSize;
    private final InitReply init;
    /** Guarded by this. */
    private final List<Worker> workers = new ArrayList<>();
    /** Workers waiting in receive. Counted without a lock: it changes twice per request. */
    private final AtomicInteger idle = new AtomicInteger();
    /** When {@link #idle} last became 0; a new value for every time it does. */
    private volatile long idleZeroSince;
    /** True while the grower sleeps until {@link #idle} becomes 0 and must be woken for that. */
    private volatile boolean growerWaiting;
    /** Set once a worker has ended: the session is ending, the pool grows no more. */
    private volatile boolean ending;
    /** Workers started and not yet ended. Guarded by this. */
    private int live;
    private final Thread grower = new Thread(this::grow, "fuse-grow");

    RequestLoop(LibFuseSession lib, Pointer session) {
        this.lib = lib;
        this.runtime = jnr.ffi.Runtime.getRuntime(lib);
        this.session = session;
        this.channel = lib.fuse_session_next_chan(session, null);
        this.bufferSize = lib.fuse_chan_bufsize(channel);
        this.init = new InitReply(lib, channel);
    }

    /** The session's one channel, for notifications. */
    Pointer channel() {
        return channel;
    }

    /** Starts the first worker, and the thread that grows the pool. */
    synchronized void start() {
        addWorker();
        grower.setDaemon(true);
        grower.start();
    }

    /**
     * Adds a worker whenever none has been waiting for a request for {@link #STARVED_NANOS} on end.
     * Not at once: on two cores a worker that has sent its reply is often preempted by the reader it
     * woke before it counts itself idle again, and growing at every such instant would reach the
     * cap under any load. A callback that really takes long (a request, the EBUSY wait, a disk
     * read) keeps its worker busy far longer.
     */
    private void grow() {
        while (!ending && workerCount() < MAX_WORKERS) {
            if (idle.get() > 0) {
                growerWaiting = true;
                if (idle.get() > 0 && !ending) {
                    LockSupport.park(this);
                }
                growerWaiting = false;
                continue;
            }
            long since = idleZeroSince;
            LockSupport.parkNanos(this, STARVED_NANOS);
            if (idle.get() == 0 && idleZeroSince == since && System.nanoTime() - since >= STARVED_NANOS) {
                synchronized (this) {
                    if (!ending && workers.size() < MAX_WORKERS) {
                        addWorker();
                    }
                }
            }
        }
    }

    /** A worker took a request: the grower hears when none is left waiting. */
    private void busy() {
        if (idle.decrementAndGet() == 0) {
            idleZeroSince = System.nanoTime();
            if (growerWaiting) {
                LockSupport.unpark(grower);
            }
        }
    }

    private void addWorker() {
        Worker w = new Worker(workers.size() + 1);
        workers.add(w);
        idle.incrementAndGet();
        live++;
        w.start();
    }

    /** Workers started so far (never more than {@link #MAX_WORKERS}). */
    synchronized int workerCount() {
        return workers.size();
    }

    /** Waits until every worker has ended. */
    synchronized void awaitWorkers() throws InterruptedException {
        while (live > 0) {
            wait();
        }
    }

    /** Waits up to {@code millis} for every worker to end; true when they all have. */
    synchronized boolean awaitWorkers(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (live > 0) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }

    /** The request the calling thread is serving, or null when it is not one of our workers. */
    static Worker current() {
        return Thread.currentThread() instanceof Worker w ? w : null;
    }

    /** One thread of the pool; between receive and reply it knows which request it serves. */
    final class Worker extends Thread {
        /** The request's opcode and the node it is about (the parent directory for LOOKUP); 0 when idle. */
        int opcode;
        long nodeId;

        Worker(int number) {
            super("fuse-worker-" + number);
            setDaemon(true);
        }

        @Override
        public void run() {
            long mem = MEMORY.allocateMemory(bufferSize, false);
            long buf = MEMORY.allocateMemory(LibFuseSession.FUSE_BUF_SIZE, true);
            long chp = MEMORY.allocateMemory(8, true);
            Pointer bufPointer = Pointer.wrap(runtime, buf);
            Pointer chpPointer = Pointer.wrap(runtime, chp);
            try {
                serve(mem, buf, chp, bufPointer, chpPointer);
            } finally {
                MEMORY.freeMemory(mem);
                MEMORY.freeMemory(buf);
                MEMORY.freeMemory(chp);
                ending = true;
                LockSupport.unpark(grower);
                synchronized (RequestLoop.this) {
                    idle.decrementAndGet();
                    live--;
                    RequestLoop.this.notifyAll();
                }
            }
        }

        private void serve(long mem, long buf, long chp, Pointer bufPointer, Pointer chpPointer) {
            while (true) {
                // libfuse may change every field of the fuse_buf: reset them before each receive
                MEMORY.putLong(buf + LibFuseSession.BUF_SIZE_OFFSET, bufferSize);
                MEMORY.putInt(buf + LibFuseSession.BUF_FLAGS_OFFSET, 0);
                MEMORY.putAddress(buf + LibFuseSession.BUF_MEM_OFFSET, mem);
                MEMORY.putInt(buf + LibFuseSession.BUF_FD_OFFSET, -1);
                MEMORY.putLong(buf + LibFuseSession.BUF_POS_OFFSET, 0);
                MEMORY.putAddress(chp, channel.address());
                int res = lib.fuse_session_receive_buf(session, bufPointer, chpPointer);
                if (res == -EINTR) {
                    continue;
                }
                if (res <= 0) {
                    if (res < 0) {
                        lib.fuse_session_exit(session);
                    }
                    return;
                }
                boolean inMemory = (MEMORY.getInt(buf + LibFuseSession.BUF_FLAGS_OFFSET) & FUSE_BUF_IS_FD) == 0;
                int op = inMemory ? MEMORY.getInt(mem + LibFuseSession.HEADER_OPCODE_OFFSET) : 0;
                boolean forget = op == FUSE_FORGET || op == FUSE_BATCH_FORGET;
                if (!forget) {
                    busy();
                }
                opcode = op;
                nodeId = inMemory ? MEMORY.getLong(mem + LibFuseSession.HEADER_NODEID_OFFSET) : 0;
                try {
                    if (op == FUSE_INIT) {
                        init.process(session, bufPointer, bufferSize, MEMORY.getInt(mem + LibFuseSession.INIT_IN_FLAGS_OFFSET));
                    } else {
                        lib.fuse_session_process_buf(session, bufPointer, channel);
                    }
                } finally {
                    opcode = 0;
                    nodeId = 0;
                    if (!forget) {
                        idle.incrementAndGet();
                    }
                }
                if (lib.fuse_session_exited(session) != 0) {
                    return;
                }
            }
        }
    }
}
