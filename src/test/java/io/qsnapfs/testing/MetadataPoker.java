package io.qsnapfs.testing;

import io.qsnapfs.format.HeaderExtension;
import io.qsnapfs.format.RefcountBlock;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * Plants faults in an image's metadata for tests: a {@link TableWalk} that also writes. It finds
 * L1/L2 entries and stored refcounts the way the spec places them, independently of the engine
 * under test, and writes through {@link Poke} (raw words at a byte offset, the file's length). It
 * also sets feature bits and appends header extensions, to craft images QEMU will not make.
 */
public final class MetadataPoker extends TableWalk {
    private MetadataPoker(Path image) {
        super(image);
    }

    /** A poker for {@code image}; its header is read now, the tables whenever asked. */
    public static MetadataPoker of(Path image) {
        return new MetadataPoker(image);
    }

    /** Sets bits {@code mask} in the header's incompatible features (bytes 72-79, version 3). */
    public void setIncompatibleFeatures(long mask) {
        requireVersion3();
        Poke.u64(image(), 72, Poke.readU64(image(), 72) | mask);
    }

    /**
     * Appends a header extension of {@code type} holding {@code data} after the last one, moving
     * the end marker behind it (version 3). It must fit before the backing file name, if any, and
     * inside the first cluster. The header this poker read is not updated; make a new poker to see it.
     */
    public void addHeaderExtension(int type, byte[] data) {
        requireVersion3();
        List<HeaderExtension> extensions = header().extensions();
        long end = extensions.isEmpty() ? header().headerLength()
                : extensions.get(extensions.size() - 1).offset() + extensions.get(extensions.size() - 1).encodedLength();
        HeaderExtension added = new HeaderExtension(type, end, data);
        long limit = header().backingFileOffset() != 0 ? header().backingFileOffset() : clusterSize();
        if (end + added.encodedLength() + 8 > limit) {
            throw new IllegalStateException(image() + ": no room for a header extension of " + data.length
                    + " bytes at " + end + " (the area ends at " + limit + ")");
        }
        ByteBuffer b = ByteBuffer.allocate(added.encodedLength() + 8);
        added.encode(b);
        b.putLong(0); // the end marker
        Poke.bytes(image(), end, b.array());
    }

    private void requireVersion3() {
        if (header().version() < 3) {
            throw new IllegalStateException(image() + " is a version 2 image: no feature bits or extensions");
        }
    }

    /** Overwrites the stored refcount of a host cluster; its refcount block must exist. */
    public void setStoredRefcount(long cluster, long value) {
        long block = refcountBlock(cluster);
        if (block == 0) {
            throw new IllegalStateException("no refcount block for cluster " + cluster);
        }
        byte[] b = Poke.readBytes(image(), block, (int) clusterSize());
        RefcountBlock.set(b, header().refcountOrder(), refcountIndex(cluster), value);
        Poke.bytes(image(), block, b);
    }
}
