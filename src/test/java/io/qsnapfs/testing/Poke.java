package io.qsnapfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Damages an image on purpose: writes one big-endian field at a byte offset, or sets the file's
 * length. Reads fields the same way, so a test can find the offset it wants to poke (the L1 table
 * from the header, an L2 table from the L1 table, and so on; {@link TableWalk} does that walk).
 * Plain {@link FileChannel}s, opened per call: a poke is in the file when the call returns.
 */
public final class Poke {
    private Poke() {
    }

    public static void u8(Path file, long offset, int value) {
        write(file, offset, ByteBuffer.allocate(1).put(0, (byte) value));
    }

    public static void u16(Path file, long offset, int value) {
        write(file, offset, ByteBuffer.allocate(2).putShort(0, (short) value));
    }

    public static void u32(Path file, long offset, long value) {
        write(file, offset, ByteBuffer.allocate(4).putInt(0, (int) value));
    }

    public static void u64(Path file, long offset, long value) {
        write(file, offset, ByteBuffer.allocate(8).putLong(0, value));
    }

    /** Writes the low {@code width} (1, 2, 4 or 8) bytes of {@code value}, big-endian. */
    public static void field(Path file, long offset, int width, long value) {
        switch (width) {
            case 1 -> u8(file, offset, (int) value);
            case 2 -> u16(file, offset, (int) value);
            case 4 -> u32(file, offset, value);
            default -> u64(file, offset, value);
        }
    }

    public static void bytes(Path file, long offset, byte[] data) {
        write(file, offset, ByteBuffer.wrap(data));
    }

    /** Cuts the file to {@code length} bytes, or extends it to that length with zeros (a hole). */
    public static void setLength(Path file, long length) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(length);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int readU8(Path file, long offset) {
        return read(file, offset, 1).get(0) & 0xff;
    }

    public static int readU16(Path file, long offset) {
        return read(file, offset, 2).getShort(0) & 0xffff;
    }

    public static long readU32(Path file, long offset) {
        return read(file, offset, 4).getInt(0) & 0xffffffffL;
    }

    public static long readU64(Path file, long offset) {
        return read(file, offset, 8).getLong(0);
    }

    /** Reads an unsigned big-endian field of {@code width} (1, 2, 4 or 8) bytes. */
    public static long readField(Path file, long offset, int width) {
        return switch (width) {
            case 1 -> readU8(file, offset);
            case 2 -> readU16(file, offset);
            case 4 -> readU32(file, offset);
            default -> readU64(file, offset);
        };
    }

    public static byte[] readBytes(Path file, long offset, int length) {
        byte[] out = new byte[length];
        read(file, offset, length).get(0, out);
        return out;
    }

    private static void write(Path file, long offset, ByteBuffer data) {
        ByteBuffer b = data.duplicate().order(ByteOrder.BIG_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            long pos = offset;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ByteBuffer read(Path file, long offset, int length) {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.BIG_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long pos = offset;
            while (b.hasRemaining()) {
                int n = ch.read(b, pos);
                if (n < 0) {
                    throw new IllegalArgumentException(file + ": " + length + " bytes at " + offset
                            + " run past the end of the file");
                }
                pos += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b;
    }
}
