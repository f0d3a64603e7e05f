package io.qsnapfs.engine.read;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.io.Closeables;
import io.qsnapfs.io.PositionalFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Opens backing files the way QEMU finds them: a relative name is taken relative to the directory
 * of the image that names it, the format comes from the backing format extension or, when the
 * header does not say, from the file's magic. One instance follows one chain, so it can refuse a
 * chain that loops back on itself and one that is deeper than any real deployment.
 */
public final class BackingChain {
    /** Longer chains are refused; this bounds the recursion of every read. */
    public static final int MAX_DEPTH = 256;

    private final Set<Path> seen = new HashSet<>();
    private int depth;

    /** One backing file of an image: its path, format, and the disk it provides. */
    public static final class Backing implements Closeable {
        private final Path path;
        private final String format;
        private final QcowImage image;
        private final PositionalFile rawFile;
        private final BlockSource source;

        private Backing(Path path, String format, QcowImage image, PositionalFile rawFile, BlockSource source) {
            this.path = path;
            this.format = format;
            this.image = image;
            this.rawFile = rawFile;
            this.source = source;
        }

        public Path path() {
            return path;
        }

        public String format() {
            return format;
        }

        /** The backing image when it is qcow2 itself, else null. */
        public QcowImage image() {
            return image;
        }

        public BlockSource source() {
            return source;
        }

        @Override
        public void close() throws IOException {
            if (image != null) {
                image.close();
            }
            if (rawFile != null) {
                rawFile.close();
            }
        }
    }

    static QcowImage openQcow(Path path, BackingChain chain) {
        chain.enter(path);
        return QcowImage.openFile(path, chain);
    }

    private void enter(Path path) {
        String name = PositionalFile.nameOf(path);
        if (++depth > MAX_DEPTH) {
            throw ImageException.unsupported(name, "backing chain is deeper than " + MAX_DEPTH + " images");
        }
        Path real;
        try {
            real = path.toRealPath();
        } catch (IOException e) {
            throw ImageException.io(name, "cannot open", e);
        }
        if (!seen.add(real)) {
            throw ImageException.corrupt(name, "backing chain loops back to " + real);
        }
    }

    /** Resolves a file name stored in an image against the directory of that image. */
    static Path resolve(Path image, String stored) {
        String s = stored.startsWith("file:") ? stored.substring("file:".length()) : stored;
        Path p = Path.of(s);
        if (p.isAbsolute()) {
            return p;
        }
        Path dir = image.toAbsolutePath().getParent();
        return dir == null ? p : dir.resolve(p);
    }

    Backing openBacking(Path imagePath, String imageName, QcowHeader header) {
        String stored = header.backingFileName();
        if (stored == null) {
            return null;
        }
        if (stored.isEmpty()) {
            throw ImageException.corrupt(imageName, "backing file name is empty");
        }
        if (stored.startsWith("json:")) {
            throw ImageException.unsupported(imageName, "backing file given as a json: pseudo-protocol is not"
                    + " supported (" + stored + ")");
        }
        Path path = resolve(imagePath, stored);
        if (!Files.exists(path)) {
            throw ImageException.notFound(imageName, "backing file '" + stored + "' not found (looked at " + path
                    + ")");
        }
        String format = header.backingFormat();
        if (format == null) {
            format = probe(imageName, path);
        }
        switch (format) {
            case "qcow2": {
                QcowImage image = openQcow(path, this);
                try {
                    return new Backing(path, format, image, null, image.activeView());
                } catch (RuntimeException e) {
                    image.close();
                    throw e;
                }
            }
            case "raw": {
                PositionalFile raw = null;
                try {
                    raw = PositionalFile.openReadOnly(path);
                    return new Backing(path, format, null, raw, new RawSource(raw, raw.size()));
                } catch (IOException e) {
                    Closeables.closeQuietly(raw);
                    throw ImageException.io(imageName, "cannot open backing file " + path, e);
                }
            }
            default:
                throw ImageException.unsupported(imageName, "backing file format '" + format
                        + "' is not supported (only qcow2 and raw)");
        }
    }

    private static String probe(String imageName, Path path) {
        try {
            return QcowImage.hasMagic(path) ? "qcow2" : "raw";
        } catch (IOException e) {
            throw ImageException.io(imageName, "cannot open backing file " + path, e);
        }
    }
}
