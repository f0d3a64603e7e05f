package io.qsnapfs.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A deliberately small qcow2 table walker, written from the spec independently of the engine, so
 * tests can check facts about the images QEMU made (e.g. that a compressed range really crosses a
 * host cluster boundary) without trusting the code under test.
 */
public final class TableWalk {
    private final ByteBuffer file;
    public final int clusterBits;
    public final boolean extendedL2;

    private TableWalk(byte[] bytes) {
        this.file = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        this.clusterBits = file.getInt(20);
        int version = file.getInt(4);
        this.extendedL2 = version >= 3 && (file.getLong(72) & (1L << 4)) != 0;
    }

    public static TableWalk of(Path image) {
        try {
            return new TableWalk(Files.readAllBytes(image));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One compressed L2 entry: host byte offset and the bytes its sector count allows. */
    public record Compressed(long hostOffset, long length) {
        /** True when the range touches two (or more) host clusters. */
        public boolean crossesCluster(int clusterBits) {
            return (hostOffset >>> clusterBits) != ((hostOffset + length - 1) >>> clusterBits);
        }
    }

    /** The (offset, size) of every L1 table: the active one first, then each snapshot's. */
    public List<long[]> l1Tables() {
        List<long[]> out = new ArrayList<>();
        out.add(new long[] {file.getLong(40), Integer.toUnsignedLong(file.getInt(36))});
        int nb = file.getInt(60);
        long pos = file.getLong(64);
        for (int i = 0; i < nb; i++) {
            int p = (int) pos;
            long l1Offset = file.getLong(p);
            long l1Size = Integer.toUnsignedLong(file.getInt(p + 8));
            int idSize = file.getShort(p + 12) & 0xffff;
            int nameSize = file.getShort(p + 14) & 0xffff;
            int extra = file.getInt(p + 36);
            out.add(new long[] {l1Offset, l1Size});
            pos = (pos + 40 + extra + idSize + nameSize + 7) & ~7L;
        }
        return out;
    }

    /** Every distinct compressed L2 entry reachable from any L1 table. */
    public Set<Compressed> compressedEntries() {
        Set<Compressed> out = new LinkedHashSet<>();
        int shift = 62 - (clusterBits - 8);
        long offsetMask = (1L << shift) - 1;
        long sectorMask = (1L << (clusterBits - 8)) - 1;
        int entryBytes = extendedL2 ? 16 : 8;
        int clusterSize = 1 << clusterBits;
        for (long[] l1 : l1Tables()) {
            for (long i = 0; i < l1[1]; i++) {
                long l2 = file.getLong((int) (l1[0] + i * 8)) & 0x00fffffffffffe00L;
                if (l2 == 0 || l2 >= file.limit()) {
                    continue;
                }
                for (int j = 0; j < clusterSize; j += entryBytes) {
                    long e = file.getLong((int) l2 + j);
                    if ((e & (1L << 62)) != 0) {
                        long off = e & offsetMask;
                        long sectors = ((e >>> shift) & sectorMask) + 1;
                        out.add(new Compressed(off, sectors * 512 - (off & 511)));
                    }
                }
            }
        }
        return out;
    }

    /** Byte offset in the file of snapshot entry {@code index} of the table. */
    public int snapshotEntryOffset(int index) {
        long pos = file.getLong(64);
        for (int i = 0; i < index; i++) {
            int p = (int) pos;
            int idSize = file.getShort(p + 12) & 0xffff;
            int nameSize = file.getShort(p + 14) & 0xffff;
            int extra = file.getInt(p + 36);
            pos = (pos + 40 + extra + idSize + nameSize + 7) & ~7L;
        }
        return (int) pos;
    }
}
