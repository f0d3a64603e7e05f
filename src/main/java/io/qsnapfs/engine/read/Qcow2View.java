package io.qsnapfs.engine.read;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.Hex;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One L1 table of an image seen as a disk: the active layer, or a snapshot switched to the way
 * QEMU's {@code load_tmp} does. The L1 table is read once when the view is made; L2 tables and
 * compressed clusters come through the image's caches.
 *
 * <p>Translation follows QEMU's classification of L2 entries exactly ({@link ClusterReads}, shared
 * with {@link Diff}): compressed clusters are decompressed (with extended L2 the bitmap is
 * ignored), zero (sub)clusters read zeros, data comes from the host cluster (with an external data
 * file, offset 0 with COPIED set is data), and unallocated ranges read from the backing disk up to
 * its size, and zeros beyond it.
 */
public final class Qcow2View implements BlockSource {
    private final QcowImage image;
    private final long[] l1;
    private final long size;
    private final String description;
    private final int clusterBits;
    private final long clusterSize;
    private final int l2Bits;
    private final int l1Shift;
    private final boolean extended;
    private final int subclusterBits;
    private final ClusterReads reads;

    Qcow2View(QcowImage image, long[] l1, long size, String description) {
        this.image = image;
        this.l1 = l1;
        this.size = size;
        this.description = description;
        this.clusterBits = image.header().clusterBits();
        this.clusterSize = 1L << clusterBits;
        this.l2Bits = image.header().l2Bits();
        this.l1Shift = clusterBits + l2Bits;
        this.extended = image.header().hasExtendedL2();
        this.subclusterBits = clusterBits - 5;
        this.reads = new ClusterReads(image.name(), image.header(), image.hasDataFile());
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String describe() {
        return description;
    }

    /** The image whose tables this view reads. */
    QcowImage image() {
        return image;
    }

    /** The view's L1 table, as read when the view was made; callers must not change it. */
    long[] l1() {
        return l1;
    }

    /** The number of L1 entries of this view (the snapshot's own l1_size). */
    public int l1Size() {
        return l1.length;
    }

    @Override
    public void map(long offset, long length, ExtentSink sink) throws IOException {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IllegalArgumentException(description + ": range " + offset + "+" + length
                    + " outside the disk of " + size + " bytes");
        }
        Coalescer out = new Coalescer(sink);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long l1Index = pos >>> l1Shift;
            long tableEnd = Math.min(end, (l1Index + 1) << l1Shift);
            long l2Offset = l1Index < l1.length ? l1[(int) l1Index] & L2Entry.OFFSET_MASK : 0;
            if (l2Offset == 0) {
                unallocated(pos, tableEnd - pos, out);
            } else {
                mapL2(image.l2Table(l2Offset), l2Offset, pos, tableEnd, out);
            }
            pos = tableEnd;
        }
        out.flush();
    }

    private void mapL2(long[] l2, long l2Offset, long start, long end, Coalescer out) throws IOException {
        long pos = start;
        int entryWords = image.header().l2EntryWords();
        while (pos < end) {
            int index = (int) ((pos >>> clusterBits) & ((1L << l2Bits) - 1));
            long inCluster = pos & (clusterSize - 1);
            long n = Math.min(end - pos, clusterSize - inCluster);
            long entry = l2[index * entryWords];
            long bitmap = extended ? l2[index * 2 + 1] : 0;
            // a piece of one cluster, or with extended L2 entries of one subcluster, at a time
            long done = 0;
            while (done < n) {
                long at = inCluster + done;
                int sc = extended ? (int) (at >>> subclusterBits) : 0;
                long piece = extended ? Math.min(n - done, ((long) (sc + 1) << subclusterBits) - at) : n;
                switch (reads.of(entry, bitmap, sc, l2Offset, index)) {
                    case COMPRESSED -> {
                        piece = n - done; // the bitmap of a compressed cluster is ignored
                        byte[] cluster = image.compressedCluster(entry);
                        out.bytes(ByteBuffer.wrap(cluster, (int) at, (int) piece));
                    }
                    case ZERO -> out.zero(piece);
                    case DATA -> data(entry, l2Offset, index, pos + done, at, piece, out);
                    case UNALLOCATED -> unallocated(pos + done, piece, out);
                }
                done += piece;
            }
            pos += n;
        }
    }

    /** Data of a host cluster ({@link ClusterReads} checked its alignment). */
    private void data(long entry, long l2Offset, int index, long guest, long inCluster, long n, Coalescer out)
            throws IOException {
        long host = entry & L2Entry.OFFSET_MASK;
        if (!image.hasDataFile() && host < clusterSize) {
            throw ImageException.corrupt(image.name(), "L2 table at " + Hex.of(l2Offset) + " entry " + index
                    + " points into the image header");
        }
        long hostPos = host + inCluster;
        // Like qemu-img check: only a cluster that starts at or past the end is an error; the part
        // of a cluster cut short by the end of the file reads as zeros, as in QEMU.
        if (host >= image.dataFileSize(host + 1)) {
            throw ImageException.corrupt(image.name(), "data cluster at " + Hex.of(host) + " for guest offset "
                    + Hex.of(guest) + " lies beyond the end of the file");
        }
        // QEMU keeps an external data file's clusters at their guest offsets and calls any other
        // mapping corrupt; so do we.
        if (image.hasDataFile() && host != guest - inCluster) {
            throw ImageException.corrupt(image.name(), "L2 table at " + Hex.of(l2Offset) + " entry " + index
                    + " maps guest cluster " + Hex.of(guest - inCluster) + " to " + Hex.of(host)
                    + " in the external data file, which must be the same offset");
        }
        PositionalFile file = image.dataClusterFile();
        out.data(file, hostPos, n);
    }

    private void unallocated(long pos, long n, Coalescer out) throws IOException {
        BlockSource backing = image.backingSource();
        if (backing == null) {
            out.zero(n);
            return;
        }
        long backingSize = backing.size();
        long fromBacking = pos >= backingSize ? 0 : Math.min(n, backingSize - pos);
        if (fromBacking > 0) {
            backing.map(pos, fromBacking, out);
        }
        out.zero(n - fromBacking);
    }
}
