package io.qsnapfs.fuse;

import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import jnr.ffi.Pointer;

/**
 * Wraps the kernel's buffer that libfuse hands to {@code read} as a direct ByteBuffer, so the
 * engine's {@code FileChannel.read} lands the data there with no copy through the Java heap.
 */
final class NativeBuffers {
    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private NativeBuffers() {
    }

    static ByteBuffer wrap(Pointer pointer, int size) {
        return MEMORY.newDirectByteBuffer(pointer.address(), size);
    }
}
