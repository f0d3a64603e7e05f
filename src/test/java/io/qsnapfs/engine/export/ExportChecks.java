package io.qsnapfs.engine.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * What every exported image must be, with QEMU as the judge: clean by {@code qemu-img check},
 * of the disk's virtual size, and converted by {@code qemu-img convert} (through its backing file)
 * to exactly the bytes QEMU converts the source to; and which clusters it holds itself, by
 * {@code qemu-img map}. Our own reader must read it back alike.
 */
final class ExportChecks {
    private ExportChecks() {
    }

    /**
     * Asserts that {@code out} is a clean qcow2 image whose disk is {@code expectedRaw}, read by
     * QEMU and by us.
     */
    static void assertImage(Path out, Path expectedRaw, String what) throws IOException {
        Oracle.assertClean(out, what);
        assertEquals(Files.size(expectedRaw), Qemu.virtualSize(out), what + ": virtual size");
        Path theirs = out.resolveSibling("qemu-" + out.getFileName() + ".raw");
        Qemu.convertToFile(out, null, theirs);
        Bytes.assertSameFiles(expectedRaw, theirs, what + ", converted by qemu-img");
        Files.delete(theirs);
        Path ours = out.resolveSibling("ours-" + out.getFileName() + ".raw");
        try (QcowImage image = QcowImage.open(out)) {
            new Exporter(image.activeView()).toFile(ours, Exporter.Progress.NONE);
        }
        Bytes.assertSameFiles(expectedRaw, ours, what + ", read by qsnapfs");
        Files.delete(ours);
    }

    /** The clusters of a raw disk that hold a byte other than zero. */
    static BitSet nonZeroClusters(Path raw, int clusterBits) {
        BitSet set = new BitSet();
        try (FileChannel ch = FileChannel.open(raw)) {
            ByteBuffer b = ByteBuffer.allocate(Math.max(1 << 20, 1 << clusterBits));
            for (long pos = 0; pos < ch.size(); pos += b.limit()) {
                b.clear().limit((int) Math.min(b.capacity(), ch.size() - pos));
                Bytes.readFully(ch, pos, b);
                for (int i = 0; i < b.limit(); i += 8) {
                    long word = i + 8 <= b.limit() ? b.getLong(i) : tail(b, i);
                    if (word != 0) {
                        set.set((int) ((pos + i) >>> clusterBits));
                        i = (int) ((((pos + i) >>> clusterBits) + 1 << clusterBits) - pos) - 8;
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return set;
    }

    private static long tail(ByteBuffer b, int from) {
        long v = 0;
        for (int i = from; i < b.limit(); i++) {
            v |= b.get(i) & 0xff;
        }
        return v;
    }

    /**
     * The clusters {@code image} holds itself by {@code qemu-img map} (data or a zero cluster; not
     * unallocated, not read from a backing file); with {@code zeros} only those it holds as zeros.
     */
    static BitSet heldClusters(Path image, int clusterBits, boolean zeros) {
        BitSet set = new BitSet();
        for (Qemu.Mapped m : Qemu.map(image)) {
            if (m.inTopImage() && (!zeros || (m.zero() && !m.data()))) {
                set.set((int) (m.start() >>> clusterBits), (int) ((m.start() + m.length() - 1 >>> clusterBits) + 1));
            }
        }
        return set;
    }

    /** Asserts that two cluster sets are equal, naming the first clusters that differ. */
    static void assertClusters(BitSet expected, BitSet actual, String what) {
        if (!expected.equals(actual)) {
            BitSet missing = (BitSet) expected.clone();
            missing.andNot(actual);
            BitSet extra = (BitSet) actual.clone();
            extra.andNot(expected);
            fail(what + ": expected " + expected.cardinality() + " clusters, got " + actual.cardinality()
                    + "; missing " + first(missing) + ", unexpected " + first(extra));
        }
    }

    private static String first(BitSet set) {
        List<Integer> list = new ArrayList<>();
        for (int i = set.nextSetBit(0); i >= 0 && list.size() < 8; i = set.nextSetBit(i + 1)) {
            list.add(i);
        }
        return list.toString();
    }

    /** Asserts that the progress reports rise to {@code total} and not past it. */
    static void assertProgress(List<long[]> reports, long total, String what) {
        long last = 0;
        for (long[] r : reports) {
            assertEquals(total, r[1], what + ": total reported");
            assertTrue(r[0] >= last && r[0] <= total, what + ": progress " + r[0] + " after " + last);
            last = r[0];
        }
        if (total > 0) {
            assertEquals(total, last, what + ": last progress report");
        }
    }

    /** Asserts that QEMU and our reader refuse {@code image}, naming the incomplete-export feature. */
    static void assertRefusedAsIncomplete(Path image, String what) {
        for (String command : new String[] {"info", "check"}) {
            Processes.Output r = Qemu.run(List.of("qemu-img", command, image.toString()));
            assertTrue(r.exitCode() != 0 && r.stderr().contains("Unsupported qcow2 feature(s): qsnapfs export incomplete"),
                    what + ": qemu-img " + command + " exited " + r.exitCode() + ": " + r.stdout() + r.stderr());
        }
        try (QcowImage opened = QcowImage.open(image)) {
            fail(what + ": qsnapfs opened an incomplete export: " + opened);
        } catch (ImageException e) {
            assertEquals(ImageException.Kind.UNSUPPORTED, e.kind(), what + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("bit 63 (qsnapfs export incomplete)"), what + ": " + e.getMessage());
        }
    }
}
