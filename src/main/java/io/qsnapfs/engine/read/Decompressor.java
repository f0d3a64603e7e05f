package io.qsnapfs.engine.read;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import io.qsnapfs.format.Features;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Decompresses one compressed cluster the way QEMU does: the output must fill the whole cluster,
 * and bytes after the end of the compressed stream (the rest of the last 512-byte sector) are
 * ignored. Deflate streams are raw (no zlib header); zstd data is one or more frames.
 */
final class Decompressor {
    private Decompressor() {
    }

    /**
     * @param input       the compressed bytes, as many as the L2 entry says may be used
     * @param inputLength how many bytes of {@code input} are valid
     * @param out         receives exactly {@code out.length} bytes
     * @return false when the data does not decompress to a whole cluster
     */
    static boolean decompress(int compressionType, byte[] input, int inputLength, byte[] out) {
        return switch (compressionType) {
            case Features.COMPRESSION_ZLIB -> inflate(input, inputLength, out);
            case Features.COMPRESSION_ZSTD -> unzstd(input, inputLength, out);
            default -> false;
        };
    }

    private static boolean inflate(byte[] input, int inputLength, byte[] out) {
        Inflater inflater = new Inflater(true);
        try {
            // With nowrap, zlib may want one byte past the end of the stream; input has a spare one.
            inflater.setInput(input, 0, Math.min(input.length, inputLength + 1));
            int done = 0;
            while (done < out.length) {
                int n = inflater.inflate(out, done, out.length - done);
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                done += n;
            }
            return done == out.length;
        } catch (DataFormatException e) {
            return false;
        } finally {
            inflater.end();
        }
    }

    private static boolean unzstd(byte[] input, int inputLength, byte[] out) {
        try (ZstdInputStreamNoFinalizer in = new ZstdInputStreamNoFinalizer(
                new ByteArrayInputStream(input, 0, inputLength))) {
            in.setContinuous(false);
            int done = 0;
            while (done < out.length) {
                int n = in.read(out, done, out.length - done);
                if (n < 0) {
                    break;
                }
                done += n;
            }
            return done == out.length;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
