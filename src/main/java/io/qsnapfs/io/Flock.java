package io.qsnapfs.io;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * One {@code struct flock} in native memory, for {@code fcntl} lock calls. Its layout on 64-bit
 * Linux (x86_64, aarch64 and the other LP64 ABIs alike), 32 bytes:
 *
 * <pre>
 *  0  short l_type     F_RDLCK, F_WRLCK or F_UNLCK
 *  2  short l_whence   SEEK_SET here
 *  4  (4 bytes padding)
 *  8  long  l_start    first byte
 * 16  long  l_len      number of bytes
 * 24  int   l_pid      must be 0 for open-file-description locks; the kernel fills in -1
 * 28  (4 bytes padding)
 * </pre>
 *
 * 32-bit ABIs lay it out differently; {@link #allocate} refuses them rather than guess.
 */
final class Flock {
    static final int SIZE = 32;
    private static final int TYPE = 0;
    private static final int WHENCE = 2;
    private static final int START = 8;
    private static final int LEN = 16;
    private static final int PID = 24;

    private final Pointer memory;

    private Flock(Pointer memory) {
        this.memory = memory;
    }

    /** A zeroed structure, or an exception naming the reason it cannot be laid out here. */
    static Flock allocate(LibC libc) throws java.io.IOException {
        jnr.ffi.Runtime runtime = jnr.ffi.Runtime.getRuntime(libc);
        if (runtime.addressSize() != 8) {
            throw new java.io.IOException("this JVM is 32-bit; struct flock is laid out here for 64-bit Linux only");
        }
        return new Flock(Memory.allocateDirect(runtime, SIZE, true));
    }

    /** Describes the single byte at {@code offset} with lock type {@code type}. */
    Flock oneByte(short type, long offset) {
        memory.putShort(TYPE, type);
        memory.putShort(WHENCE, LibC.SEEK_SET);
        memory.putLong(START, offset);
        memory.putLong(LEN, 1);
        memory.putInt(PID, 0);
        return this;
    }

    /** The lock type: after F_OFD_GETLK, F_UNLCK when nothing conflicts, else the conflicting lock's type. */
    short type() {
        return memory.getShort(TYPE);
    }

    Pointer pointer() {
        return memory;
    }
}
