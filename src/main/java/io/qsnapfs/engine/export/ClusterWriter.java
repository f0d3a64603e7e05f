package io.qsnapfs.engine.export;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.ExtentSink;
import io.qsnapfs.format.Hex;
import io.qsnapfs.io.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Copies whole clusters of a disk into the new image: it receives the disk's translation ({@link
 * BlockSource#map}) and gives each guest cluster that holds data a host cluster ({@link
 * ClusterMapping#data}) the moment its first data arrives, then writes the data there. Data
 * extents are copied file to file ({@link Exporter#fileWriter}), in one copy for as long as they
 * stay contiguous in both files; decompressed bytes are written from memory; zeros are not
 * written at all, since the new clusters of a fresh file read as zeros already.
 *
 * <p>A cluster that receives zeros only has no data: it stays unallocated, or, for a delta that
 * must hide its backing file's bytes there, becomes a zero cluster ({@link ClusterMapping#zero}).
 */
final class ClusterWriter implements ExtentSink {
    private final BlockSource source;
    private final OutputFile out;
    private final ClusterMapping mapping;
    private final boolean zeroClusters;
    private final int clusterBits;
    private final long clusterMask;

    /** The guest offset of the next byte the translation delivers. */
    private long pos;
    /** The guest cluster that byte belongs to, or -1 between copies. */
    private long cluster = -1;
    /** That cluster's host offset, or 0 while it has had no data. */
    private long host;

    /** The data not yet copied: {@code runLength} bytes of {@code runFile} to the new image. */
    private PositionalFile runFile;
    private long runSource;
    private long runTarget;
    private long runGuest;
    private long runLength;

    /**
     * A writer of {@code source}'s clusters through {@code mapping}; with {@code zeroClusters} a
     * cluster without data becomes a zero cluster, else it stays unallocated.
     */
    ClusterWriter(BlockSource source, OutputFile out, ClusterMapping mapping, int clusterBits, boolean zeroClusters) {
        this.source = source;
        this.out = out;
        this.mapping = mapping;
        this.zeroClusters = zeroClusters;
        this.clusterBits = clusterBits;
        this.clusterMask = (1L << clusterBits) - 1;
    }

    /**
     * Copies the clusters of {@code [offset, offset + length)}: {@code offset} is a cluster
     * boundary, and so is the end unless it is the end of the disk. Ranges come in guest order.
     */
    void copy(long offset, long length) throws IOException {
        pos = offset;
        source.map(offset, length, this);
        if (pos != offset + length) {
            throw new IllegalStateException(source.describe() + ": translation of " + offset + "+" + length
                    + " ended at " + pos);
        }
        endCluster();
        cluster = -1;
        copyRun();
    }

    @Override
    public void zero(long length) {
        long end = pos + length;
        if (!zeroClusters) {
            pos = end; // a cluster without data stays unallocated: nothing to note
            return;
        }
        while (pos < end) {
            enter(pos >>> clusterBits);
            pos = Math.min(end, (cluster + 1) << clusterBits);
        }
    }

    @Override
    public void data(PositionalFile file, long hostOffset, long length) {
        long done = 0;
        while (done < length) {
            long target = hostFor(pos);
            long n = Math.min(length - done, clusterMask + 1 - (pos & clusterMask));
            if (runLength > 0 && runFile == file && runSource + runLength == hostOffset + done
                    && runTarget + runLength == target) {
                runLength += n;
            } else {
                copyRun();
                runFile = file;
                runSource = hostOffset + done;
                runTarget = target;
                runGuest = pos;
                runLength = n;
            }
            pos += n;
            done += n;
        }
    }

    @Override
    public void bytes(ByteBuffer data) {
        while (data.hasRemaining()) {
            long target = hostFor(pos);
            int n = (int) Math.min(data.remaining(), clusterMask + 1 - (pos & clusterMask));
            out.write(target, data.slice(data.position(), n), "data cluster at " + Hex.of(target & ~clusterMask));
            data.position(data.position() + n);
            pos += n;
        }
    }

    /** The host offset of guest offset {@code guest}, giving its cluster a host cluster if it has none. */
    private long hostFor(long guest) {
        enter(guest >>> clusterBits);
        if (host == 0) {
            host = mapping.data(cluster);
        }
        return host + (guest & clusterMask);
    }

    /** Moves on to guest cluster {@code c}, done with the one before. */
    private void enter(long c) {
        if (c != cluster) {
            endCluster();
            cluster = c;
            host = 0;
        }
    }

    private void endCluster() {
        if (cluster >= 0 && host == 0 && zeroClusters) {
            mapping.zero(cluster);
        }
    }

    /** Copies the pending run of data file to file. */
    private void copyRun() {
        if (runLength == 0) {
            return;
        }
        try {
            Exporter.fileWriter(out.channel(), runTarget).data(runFile, runSource, runLength);
        } catch (IOException e) {
            throw ImageException.io(out.name(), "cannot copy " + runLength + " bytes at guest offset "
                    + Hex.of(runGuest) + " of " + source.describe() + " to the data clusters at "
                    + Hex.of(runTarget & ~clusterMask), e);
        }
        runLength = 0;
        runFile = null;
    }
}
