package io.qsnapfs.engine.read;

import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Receives the translation of a guest range, extent by extent, in guest order. Every guest byte
 * of the range is delivered exactly once, by one of the three calls.
 */
public interface ExtentSink {
    /** {@code length} guest bytes read as zeros. */
    void zero(long length) throws IOException;

    /**
     * {@code length} guest bytes are stored contiguously in {@code file} at {@code hostOffset}.
     * The range may extend past the end of the file; those bytes read as zeros.
     */
    void data(PositionalFile file, long hostOffset, long length) throws IOException;

    /**
     * Guest bytes that had to be computed (decompressed). The buffer is only valid during the
     * call; its remaining bytes are the data.
     */
    void bytes(ByteBuffer data) throws IOException;
}
