package io.qsnapfs.engine.export;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.Hex;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The file an export writes: a regular file, created or truncated, written at positions and
 * synced. Every failure is an {@link ImageException} that names the file and the structure.
 */
final class OutputFile implements AutoCloseable {
    private final PositionalFile file;
    private final String name;

    private OutputFile(PositionalFile file) {
        this.file = file;
        this.name = file.name();
    }

    /**
     * Creates {@code path}, or truncates it when it is a regular file. Anything else that exists
     * there (a directory, a device, a pipe) is refused and left alone: an image is a regular file.
     */
    static OutputFile create(Path path) {
        String name = PositionalFile.nameOf(path);
        if (Files.isDirectory(path)) {
            throw new ImageException(ImageException.Kind.IS_DIRECTORY, name + ": is a directory; a qcow2 image is"
                    + " written to a regular file");
        }
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            throw new ImageException(ImageException.Kind.INVALID_ARGUMENT, name + ": is not a regular file; a qcow2"
                    + " image is written to a regular file, which is created or truncated");
        }
        try {
            FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
            return new OutputFile(PositionalFile.wrap(path, channel));
        } catch (IOException e) {
            throw ImageException.io(name, "cannot create", e);
        }
    }

    /** An output file over a file the caller opened (tests record the writes this way). */
    static OutputFile over(PositionalFile file) {
        return new OutputFile(file);
    }

    /** The file's name, as messages show it. */
    String name() {
        return name;
    }

    /** The channel data clusters are copied into ({@link io.qsnapfs.engine.export.Exporter#fileWriter}). */
    FileChannel channel() {
        return file.channel();
    }

    /** Writes all of {@code data} at {@code offset}; {@code what} names the structure for errors. */
    void write(long offset, ByteBuffer data, String what) {
        try {
            file.writeFully(offset, data);
        } catch (IOException e) {
            throw ImageException.io(name, "write error in " + what + " at " + Hex.of(offset), e);
        }
    }

    /** Makes everything written so far durable (fdatasync); {@code when} says which step for errors. */
    void sync(String when) {
        try {
            file.sync();
        } catch (IOException e) {
            throw ImageException.io(name, "sync failed " + when, e);
        }
    }

    @Override
    public void close() {
        try {
            file.close();
        } catch (IOException e) {
            throw ImageException.io(name, "close failed", e);
        }
    }
}
