package io.qsnapfs.engine;

import io.qsnapfs.format.L2Entry;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.RefcountBlock;
import io.qsnapfs.format.RefcountTable;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Plants faults in an image's metadata for tests: stored refcounts, L1/L2 entries, raw words. It
 * locates structures through the header the way the spec describes them.
 */
public final class ImagePoker implements AutoCloseable {
    public final PositionalFile file;
    public final QcowHeader header;

    private ImagePoker(PositionalFile file, QcowHeader header) {
        this.file = file;
        this.header = header;
    }

    public static ImagePoker open(Path image) {
        try {
            PositionalFile f = PositionalFile.openReadWrite(image);
            return new ImagePoker(f, ImageFile.over(f).readHeader());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public long clusterSize() {
        return header.clusterSize();
    }

    public long fileSize() {
        try {
            return file.size();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public long readLong(long pos) {
        try {
            return file.read(pos, 8).getLong();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void writeLong(long pos, long value) {
        try {
            file.writeFully(pos, ByteBuffer.allocate(8).putLong(0, value));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void write(long pos, byte[] bytes) {
        try {
            file.writeFully(pos, ByteBuffer.wrap(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public byte[] read(long pos, int length) {
        try {
            byte[] b = new byte[length];
            file.readFully(pos, ByteBuffer.wrap(b));
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void truncate(long size) {
        try {
            file.channel().truncate(size);
            if (file.size() < size) {
                file.writeFully(size - 1, ByteBuffer.wrap(new byte[1]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Byte offset of the refcount table entry describing host cluster {@code cluster}. */
    public long refcountTableEntryPos(long cluster) {
        int blockBits = RefcountBlock.blockBits(header.clusterBits(), header.refcountOrder());
        return header.refcountTableOffset() + (cluster >>> blockBits) * 8;
    }

    public long storedRefcount(long cluster) {
        int blockBits = RefcountBlock.blockBits(header.clusterBits(), header.refcountOrder());
        long block = RefcountTable.blockOffset(readLong(refcountTableEntryPos(cluster)));
        if (block == 0) {
            return 0;
        }
        byte[] b = read(block, (int) clusterSize());
        return RefcountBlock.get(b, header.refcountOrder(), (int) (cluster & ((1L << blockBits) - 1)));
    }

    /** Overwrites the stored refcount of a host cluster; its refcount block must exist. */
    public void setStoredRefcount(long cluster, long value) {
        int blockBits = RefcountBlock.blockBits(header.clusterBits(), header.refcountOrder());
        long block = RefcountTable.blockOffset(readLong(refcountTableEntryPos(cluster)));
        if (block == 0) {
            throw new IllegalStateException("no refcount block for cluster " + cluster);
        }
        byte[] b = read(block, (int) clusterSize());
        RefcountBlock.set(b, header.refcountOrder(), (int) (cluster & ((1L << blockBits) - 1)), value);
        write(block, b);
    }

    /** Byte offset of the active L1 entry covering guest offset {@code guest}. */
    public long l1EntryPos(long guest) {
        return header.l1TableOffset() + (guest >>> (header.clusterBits() + header.l2Bits())) * 8;
    }

    /** Byte offset of the active L2 entry for guest offset {@code guest}; its L2 table must exist. */
    public long l2EntryPos(long guest) {
        long l2 = readLong(l1EntryPos(guest)) & L2Entry.OFFSET_MASK;
        if (l2 == 0) {
            throw new IllegalStateException("no L2 table for guest offset " + guest);
        }
        long index = (guest >>> header.clusterBits()) & ((1L << header.l2Bits()) - 1);
        return l2 + index * header.l2EntryBytes();
    }

    /** The host cluster index a normal guest cluster maps to. */
    public long hostCluster(long guest) {
        return (readLong(l2EntryPos(guest)) & L2Entry.OFFSET_MASK) >>> header.clusterBits();
    }

    /** The cluster index of the L2 table covering guest offset {@code guest}. */
    public long l2Cluster(long guest) {
        return (readLong(l1EntryPos(guest)) & L2Entry.OFFSET_MASK) >>> header.clusterBits();
    }

    @Override
    public void close() {
        try {
            file.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
