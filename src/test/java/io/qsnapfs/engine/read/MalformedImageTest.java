package io.qsnapfs.engine.read;

import static io.qsnapfs.testing.TableWalk.raw;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.ImageException.Kind;
import io.qsnapfs.engine.ImageException;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way of breaking an image that we could think of, one field at a time: each test copies a
 * fresh image made by qemu-img/qemu-io, checks that it reads, pokes one field, and then expects
 * that opening the image and reading every snapshot, every VM state and the active layer fails
 * with an {@link ImageException} of the right kind whose message names the image and says what
 * is wrong, within a few seconds, and never with any other exception or error.
 */
class MalformedImageTest {
    /** Bound for opening and reading everything in one image, damaged or not. */
    private static final Duration TIME_LIMIT = Duration.ofSeconds(10);
    /** An odd read size, so that reads straddle cluster and table boundaries. */
    private static final int CHUNK = 12 * 1024 + 512;
    private static final long OFFSET_MASK = 0x00fffffffffffe00L;
    private static final long COPIED = 1L << 63;
    private static final long COMPRESSED = 1L << 62;

    // Header field offsets (docs/interop/qcow2.txt).
    private static final int MAGIC = 0;
    private static final int VERSION = 4;
    private static final int BACKING_FILE_OFFSET = 8;
    private static final int BACKING_FILE_SIZE = 16;
    private static final int CLUSTER_BITS = 20;
    private static final int SIZE = 24;
    private static final int CRYPT_METHOD = 32;
    private static final int L1_SIZE = 36;
    private static final int L1_TABLE_OFFSET = 40;
    private static final int REFCOUNT_TABLE_OFFSET = 48;
    private static final int REFCOUNT_TABLE_CLUSTERS = 56;
    private static final int NB_SNAPSHOTS = 60;
    private static final int SNAPSHOTS_OFFSET = 64;
    private static final int INCOMPATIBLE_FEATURES = 72;
    private static final int REFCOUNT_ORDER = 96;
    private static final int HEADER_LENGTH = 100;
    private static final int COMPRESSION_TYPE = 104;

    // Snapshot table entry field offsets.
    private static final int SN_L1_TABLE_OFFSET = 0;
    private static final int SN_L1_SIZE = 8;
    private static final int SN_ID_STR_SIZE = 12;
    private static final int SN_NAME_SIZE = 14;
    private static final int SN_EXTRA_DATA_SIZE = 36;
    private static final int SN_VM_STATE_SIZE_LARGE = 40;
    private static final int SN_DISK_SIZE = 48;

    /** Images built once and copied for each test: building takes several qemu-img runs. */
    private static final Map<String, Path> TEMPLATES = new HashMap<>();
    @TempDir
    static Path templates;

    @AfterAll
    static void forgetTemplates() {
        synchronized (TEMPLATES) {
            TEMPLATES.clear();
        }
    }

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------
    // Fresh images

    /**
     * 8 MiB, 64 KiB clusters, data in two places, two snapshots. Nothing is written after the
     * second snapshot, so the snapshot table is the last thing in the file.
     */
    private Path withSnapshots(String name) {
        return copy("snapshots", name, t -> {
            Qemu.create(t, "8M", "");
            Qemu.io(t, "write -P 0xab 0 1M", "write -P 0x11 3M 64k");
            Qemu.snapshot(t, "one");
            Qemu.io(t, "write -P 0xcd 512k 1M", "write -z 3M 4k");
            Qemu.snapshot(t, "two");
        });
    }

    /** 8 MiB, 64 KiB clusters, the first MiB written, no snapshots: L1, then L2, then 16 data clusters. */
    private Path plain(String name) {
        return copy("plain", name, t -> {
            Qemu.create(t, "8M", "");
            Qemu.io(t, "write -P 0xab 0 1M");
        });
    }

    private Path withOptions(String template, String name, String options, String size, String... io) {
        return copy(template, name, t -> {
            Qemu.create(t, size, options);
            if (io.length > 0) {
                Qemu.io(t, io);
            }
        });
    }

    private interface Builder {
        void build(Path target);
    }

    private Path copy(String template, String name, Builder builder) {
        Path t;
        synchronized (TEMPLATES) {
            t = TEMPLATES.get(template);
            if (t == null) {
                t = templates.resolve(template + ".qcow2");
                builder.build(t);
                TEMPLATES.put(template, t);
            }
        }
        Path target = dir.resolve(name);
        try {
            Files.copy(t, target);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return target;
    }

    // ---------------------------------------------------------------------------------------------
    // Reading everything, and the assertions

    /** The undamaged image must read, or a test would prove nothing. */
    private static void assertReadable(Path image) {
        assertTimeoutPreemptively(TIME_LIMIT, () -> ReadAll.image(image, CHUNK), image + " before the poke");
    }

    private static ImageException assertRejected(Path image, Kind kind, String... phrases) {
        return assertRejectedAs(image, image.getFileName().toString(), kind, phrases);
    }

    /**
     * Opening and reading everything fails in time with an ImageException of {@code kind}, whose
     * message starts with {@code reported} (the image the problem is in) and contains each phrase.
     */
    private static ImageException assertRejectedAs(Path image, String reported, Kind kind, String... phrases) {
        ImageException e = assertTimeoutPreemptively(TIME_LIMIT,
                () -> assertThrows(ImageException.class, () -> ReadAll.image(image, CHUNK)));
        String message = e.getMessage();
        assertTrue(message.startsWith(reported + ": "), "message should start with the image name: " + message);
        for (String phrase : phrases) {
            assertTrue(message.contains(phrase), "message should contain '" + phrase + "': " + message);
        }
        assertEquals(kind, e.kind(), message);
        return e;
    }

    // ---------------------------------------------------------------------------------------------
    // Finding fields

    private static long fileSize(Path image) {
        try {
            return Files.size(image);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Truncated files

    @Test
    void emptyFile() throws IOException {
        Path img = Files.createFile(dir.resolve("empty.qcow2"));
        assertRejected(img, Kind.CORRUPT, "too short to hold a qcow2 header (0 bytes)");
    }

    @Test
    void truncatedAt50Bytes() {
        Path img = withSnapshots("t50.qcow2");
        assertReadable(img);
        Poke.setLength(img, 50);
        assertRejected(img, Kind.CORRUPT, "too short to hold a qcow2 header (50 bytes)");
    }

    @Test
    void truncatedAt100Bytes() {
        Path img = withSnapshots("t100.qcow2");
        assertReadable(img);
        Poke.setLength(img, 100);
        assertRejected(img, Kind.CORRUPT, "too short to hold a version 3 header");
    }

    @Test
    void truncatedInTheFirstCluster() {
        Path img = withSnapshots("t32k.qcow2");
        assertReadable(img);
        Poke.setLength(img, 0x8000);
        assertRejected(img, Kind.CORRUPT, "L1 table at 0x30000 (8 bytes) lies beyond the end of the file (32768 bytes)");
    }

    @Test
    void truncatedInTheMiddleOfTheL1Table() {
        Path img = plain("tl1.qcow2");
        assertReadable(img);
        long l1 = raw(img).l1TableOffset();
        Poke.setLength(img, l1 + 4);
        assertRejected(img, Kind.CORRUPT, "L1 table at " + hex(l1), "runs past the end of the file");
    }

    @Test
    void truncatedInTheMiddleOfTheL2Table() {
        Path img = plain("tl2.qcow2");
        assertReadable(img);
        long l2 = raw(img).l2TableOffset(0);
        Poke.setLength(img, l2 + 0x8000);
        assertRejected(img, Kind.CORRUPT, "L2 table at " + hex(l2), "runs past the end of the file");
    }

    @Test
    void truncatedInTheFirstSnapshotEntry() {
        Path img = withSnapshots("tsn0.qcow2");
        assertReadable(img);
        long table = Poke.readU64(img, SNAPSHOTS_OFFSET);
        Poke.setLength(img, table + 20);
        assertRejected(img, Kind.CORRUPT, "snapshot table at " + hex(table) + " (entry 0 of 2) runs past the end");
    }

    @Test
    void truncatedInTheLastSnapshotEntry() {
        Path img = withSnapshots("tsn1.qcow2");
        assertReadable(img);
        Poke.setLength(img, raw(img).snapshotEntryOffset(1) + 50);
        assertRejected(img, Kind.CORRUPT, "(entry 1 of 2) runs past the end of the file");
    }

    /** A data cluster cut off in its middle reads as data, then zeros, like QEMU reads it. */
    @Test
    void dataClusterCutOffMidClusterReadsZerosLikeQemu() {
        Path img = plain("tdata.qcow2");
        long last = Poke.readU64(img, raw(img).l2TableOffset(0) + 15 * 8) & OFFSET_MASK;
        assertEquals(fileSize(img), last + 0x10000, "the last data cluster should end the file");
        Poke.setLength(img, last + 0x8000);
        byte[] expected = Qemu.activeBytes(img, dir);
        assertTimeoutPreemptively(TIME_LIMIT, () -> {
            try (QcowImage image = QcowImage.open(img)) {
                for (int chunk : new int[] {4096, CHUNK, 1 << 20}) {
                    Bytes.assertSameBytes(expected, Oracle.readAll(Ours.disk(image.activeView()), chunk),
                            "chunk " + chunk);
                }
            }
        });
        assertEquals((byte) 0xab, expected[15 * 0x10000 + 0x7fff]);
        assertEquals(0, expected[15 * 0x10000 + 0x8000]);
    }

    /** A data cluster that starts at or past the end of the file is an error (QEMU reads zeros). */
    @Test
    void dataClusterStartingAtTheEndOfTheFile() {
        Path img = plain("tdata2.qcow2");
        assertReadable(img);
        long last = Poke.readU64(img, raw(img).l2TableOffset(0) + 15 * 8) & OFFSET_MASK;
        Poke.setLength(img, last);
        assertRejected(img, Kind.CORRUPT, "data cluster at " + hex(last) + " for guest offset 0xf0000",
                "lies beyond the end of the file");
    }

    // ---------------------------------------------------------------------------------------------
    // Header fields

    @Test
    void badMagic() {
        Path img = withSnapshots("magic.qcow2");
        Poke.u32(img, MAGIC, 0x514649fa);
        assertRejected(img, Kind.CORRUPT, "not a qcow2 image (bad magic 0x514649fa)");
    }

    @Test
    void version1() {
        Path img = withSnapshots("v1.qcow2");
        Poke.u32(img, VERSION, 1);
        assertRejected(img, Kind.UNSUPPORTED, "qcow2 version 1 is not supported");
    }

    @Test
    void version4() {
        Path img = withSnapshots("v4.qcow2");
        Poke.u32(img, VERSION, 4);
        assertRejected(img, Kind.UNSUPPORTED, "qcow2 version 4 is not supported");
    }

    /** A real qcow (version 1) header has other fields at byte 20; the version must be reported. */
    @Test
    void version1WithGarbageWhereClusterBitsWouldBe() {
        Path img = withSnapshots("v1b.qcow2");
        Poke.u32(img, VERSION, 1);
        Poke.u32(img, CLUSTER_BITS, 0x5f000000);
        assertRejected(img, Kind.UNSUPPORTED, "qcow2 version 1 is not supported");
    }

    @Test
    void clusterBits8() {
        Path img = withSnapshots("cb8.qcow2");
        Poke.u32(img, CLUSTER_BITS, 8);
        assertRejected(img, Kind.CORRUPT, "cluster_bits 8 is outside the valid range 9..21");
    }

    @Test
    void clusterBits22() {
        Path img = withSnapshots("cb22.qcow2");
        Poke.u32(img, CLUSTER_BITS, 22);
        assertRejected(img, Kind.CORRUPT, "cluster_bits 22 is outside the valid range 9..21");
    }

    @Test
    void clusterBitsAllOnes() {
        Path img = withSnapshots("cbff.qcow2");
        Poke.u32(img, CLUSTER_BITS, 0xffffffffL);
        assertRejected(img, Kind.CORRUPT, "cluster_bits 4294967295 is outside the valid range 9..21");
    }

    @Test
    void headerLengthBelow104() {
        Path img = withSnapshots("hl100.qcow2");
        Poke.u32(img, HEADER_LENGTH, 100);
        assertRejected(img, Kind.CORRUPT, "header_length 100 is shorter than the 104 bytes");
    }

    @Test
    void headerLengthAboveTheClusterSize() {
        Path img = withSnapshots("hl128k.qcow2");
        Poke.u32(img, HEADER_LENGTH, 0x20000);
        assertRejected(img, Kind.CORRUPT, "header_length 131072 exceeds the cluster size 65536");
    }

    @Test
    void headerLengthHuge() {
        Path img = withSnapshots("hlff.qcow2");
        Poke.u32(img, HEADER_LENGTH, 0xffffffffL);
        assertRejected(img, Kind.CORRUPT, "header_length 4294967295 exceeds the cluster size 65536");
    }

    @Test
    void unknownCompressionType() {
        Path img = withSnapshots("ctype.qcow2");
        Poke.u8(img, COMPRESSION_TYPE, 7);
        assertRejected(img, Kind.UNSUPPORTED, "unknown compression type 7");
    }

    @Test
    void compressionBitWithoutCompressionType() {
        Path img = withOptions("zstd", "zbit.qcow2", "compression_type=zstd", "8M", "write -c -P 0x11 0 64k");
        assertReadable(img);
        assertEquals(8, Poke.readU64(img, INCOMPATIBLE_FEATURES));
        Poke.u8(img, COMPRESSION_TYPE, 0);
        assertRejected(img, Kind.CORRUPT, "compression type feature bit is set but the compression type is zlib");
    }

    @Test
    void compressionTypeWithoutCompressionBit() {
        Path img = withOptions("zstd", "ztype.qcow2", "compression_type=zstd", "8M", "write -c -P 0x11 0 64k");
        assertReadable(img);
        Poke.u64(img, INCOMPATIBLE_FEATURES, 0);
        assertRejected(img, Kind.CORRUPT, "compression type zstd is set without its incompatible feature bit");
    }

    @Test
    void unknownIncompatibleBit() {
        Path img = withSnapshots("bit20.qcow2");
        Poke.u64(img, INCOMPATIBLE_FEATURES, 1L << 20);
        assertRejected(img, Kind.UNSUPPORTED, "unknown incompatible feature bit 20");
    }

    /** QEMU names an unknown feature from the image's feature name table; so do we. */
    @Test
    void unknownIncompatibleBitNamedByTheFeatureTable() {
        Path img = withSnapshots("bit21.qcow2");
        long record = featureRecord(img, 0, 4);
        Poke.u8(img, record + 1, 21);
        byte[] name = new byte[46];
        byte[] text = "frobnicated clusters".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, name, 0, text.length);
        Poke.bytes(img, record + 2, name);
        assertReadable(img);
        Poke.u64(img, INCOMPATIBLE_FEATURES, 1L << 21);
        assertRejected(img, Kind.UNSUPPORTED, "unknown incompatible feature bit 21 (frobnicated clusters)");
    }

    /** The offset of the feature name table record for (type, bit). */
    private static long featureRecord(Path img, int type, int bit) {
        long pos = Poke.readU32(img, HEADER_LENGTH);
        while (true) {
            long extType = Poke.readU32(img, pos);
            long length = Poke.readU32(img, pos + 4);
            if (extType == 0) {
                fail("no feature name table in " + img);
            }
            if (extType == 0x6803f857L) {
                for (long r = pos + 8; r + 48 <= pos + 8 + length; r += 48) {
                    if (Poke.readU8(img, r) == type && Poke.readU8(img, r + 1) == bit) {
                        return r;
                    }
                }
                fail("no feature name record for type " + type + " bit " + bit);
            }
            pos += 8 + ((length + 7) & ~7L);
        }
    }

    @Test
    void cryptMethodAes() {
        Path img = withSnapshots("aes.qcow2");
        Poke.u32(img, CRYPT_METHOD, 1);
        assertRejected(img, Kind.UNSUPPORTED, "encrypted images are not supported (crypt_method 1)");
    }

    @Test
    void cryptMethodLuks() {
        Path img = withSnapshots("luks.qcow2");
        Poke.u32(img, CRYPT_METHOD, 2);
        assertRejected(img, Kind.UNSUPPORTED, "encrypted images are not supported (crypt_method 2)");
    }

    @Test
    void refcountOrder7() {
        Path img = withSnapshots("ro7.qcow2");
        Poke.u32(img, REFCOUNT_ORDER, 7);
        assertRejected(img, Kind.CORRUPT, "refcount_order 7 is outside the valid range 0..6");
    }

    @Test
    void refcountOrderHuge() {
        Path img = withSnapshots("roff.qcow2");
        Poke.u32(img, REFCOUNT_ORDER, 0xfffffff0L);
        assertRejected(img, Kind.CORRUPT, "refcount_order 4294967280 is outside the valid range 0..6");
    }

    @Test
    void extendedL2WithClustersSmallerThan16K() {
        Path img = withOptions("c4k", "xl2small.qcow2", "cluster_size=4096", "8M", "write -P 0x22 0 64k");
        assertReadable(img);
        Poke.u64(img, INCOMPATIBLE_FEATURES, 1L << 4);
        assertRejected(img, Kind.CORRUPT, "extended L2 entries need a cluster size of at least 16384 bytes");
    }

    // ---------------------------------------------------------------------------------------------
    // Sizes and the active L1 table

    @Test
    void l1SizeHuge() {
        Path img = withSnapshots("l1huge.qcow2");
        Poke.u32(img, L1_SIZE, (32 << 20) / 8 + 1);
        assertRejected(img, Kind.CORRUPT, "active L1 table of 4194305 entries exceeds the 32 MiB limit");
    }

    @Test
    void l1SizeAllOnes() {
        Path img = withSnapshots("l1ff.qcow2");
        Poke.u32(img, L1_SIZE, 0xffffffffL);
        assertRejected(img, Kind.CORRUPT, "active L1 table of 4294967295 entries exceeds the 32 MiB limit");
    }

    @Test
    void l1SizeTooSmallForTheDisk() {
        Path img = withOptions("c4k", "l1small.qcow2", "cluster_size=4096", "8M", "write -P 0x22 0 64k");
        assertReadable(img);
        assertEquals(4, Poke.readU32(img, L1_SIZE));
        Poke.u32(img, L1_SIZE, 3);
        assertRejected(img, Kind.CORRUPT, "active L1 table of 3 entries is too small for a disk of 8388608 bytes");
    }

    @Test
    void l1OffsetMisaligned() {
        Path img = withSnapshots("l1mis.qcow2");
        Poke.u64(img, L1_TABLE_OFFSET, raw(img).l1TableOffset() + 8);
        assertRejected(img, Kind.CORRUPT, "L1 table offset 0x30008 is not a non-zero multiple of the cluster size");
    }

    @Test
    void l1OffsetBeyondTheEndOfTheFile() {
        Path img = withSnapshots("l1eof.qcow2");
        Poke.u64(img, L1_TABLE_OFFSET, 0x10000000);
        assertRejected(img, Kind.CORRUPT, "L1 table at 0x10000000 (8 bytes) lies beyond the end of the file");
    }

    @Test
    void l1OffsetZero() {
        Path img = withSnapshots("l1zero.qcow2");
        Poke.u64(img, L1_TABLE_OFFSET, 0);
        assertRejected(img, Kind.CORRUPT, "L1 table offset 0x0 is not a non-zero multiple of the cluster size");
    }

    @Test
    void diskSizeNegative() {
        Path img = withSnapshots("sizeneg.qcow2");
        Poke.u64(img, SIZE, 1L << 63);
        assertRejected(img, Kind.CORRUPT, "virtual disk size 9223372036854775808 is too large");
    }

    @Test
    void diskSize2To62() {
        Path img = withSnapshots("size62.qcow2");
        Poke.u64(img, SIZE, 1L << 62);
        assertRejected(img, Kind.CORRUPT, "active L1 table of 1 entries is too small for a disk of 4611686018427387904");
    }

    /** 2^62 bytes with 2 MiB clusters needs 2^23 L1 entries, 64 MiB of L1 table: refused unread. */
    @Test
    void diskSize2To62WithAMatchingL1Size() {
        Path img = withOptions("c2m", "size62l1.qcow2", "cluster_size=2M", "64M", "write -P 0x33 0 4M");
        assertReadable(img);
        Poke.u64(img, SIZE, 1L << 62);
        Poke.u32(img, L1_SIZE, 1L << 23);
        assertRejected(img, Kind.CORRUPT, "active L1 table of 8388608 entries exceeds the 32 MiB limit");
    }

    /** The largest disk a 32 MiB L1 table addresses (2^61 bytes): the table is checked before it is read. */
    @Test
    void diskSize2To61WithAFullSizeL1TableBeyondTheEndOfTheFile() {
        Path img = withOptions("c2m", "size61l1.qcow2", "cluster_size=2M", "64M", "write -P 0x33 0 4M");
        Poke.u64(img, SIZE, 1L << 61);
        Poke.u32(img, L1_SIZE, 1L << 22);
        assertRejected(img, Kind.CORRUPT, "L1 table at " + hex(raw(img).l1TableOffset()) + " (33554432 bytes)",
                "past the end of the file");
    }

    // ---------------------------------------------------------------------------------------------
    // L1 and L2 entries

    @Test
    void l1EntryPointingBeyondTheEndOfTheFile() {
        Path img = withSnapshots("l1e-eof.qcow2");
        Poke.u64(img, raw(img).l1TableOffset(), COPIED | 0x10000000L);
        assertRejected(img, Kind.CORRUPT, "L2 table at 0x10000000 lies beyond the end of the file");
    }

    @Test
    void l1EntryMisaligned() {
        Path img = withSnapshots("l1e-mis.qcow2");
        long l2 = raw(img).l2TableOffset(0);
        Poke.u64(img, raw(img).l1TableOffset(), COPIED | (l2 + 0x200));
        assertRejected(img, Kind.CORRUPT, "active L1 table entry 0 points to an L2 table at " + hex(l2 + 0x200)
                + " that is not aligned");
    }

    @Test
    void l2EntryPointingBeyondTheEndOfTheFile() {
        Path img = withSnapshots("l2e-eof.qcow2");
        Poke.u64(img, raw(img).l2TableOffset(0), COPIED | 0x10000000L);
        assertRejected(img, Kind.CORRUPT, "data cluster at 0x10000000 for guest offset 0x0 lies beyond the end");
    }

    @Test
    void l2EntryMisaligned() {
        Path img = withSnapshots("l2e-mis.qcow2");
        long l2 = raw(img).l2TableOffset(0);
        long data = Poke.readU64(img, l2) & OFFSET_MASK;
        Poke.u64(img, l2, COPIED | (data + 0x200));
        assertRejected(img, Kind.CORRUPT, "L2 table at " + hex(l2) + " entry 0 points to data at "
                + hex(data + 0x200) + " that is not aligned");
    }

    /** A standard entry cannot point into the header without being misaligned; a compressed one can. */
    @Test
    void l2EntryPointingIntoTheHeader() {
        Path img = withSnapshots("l2e-hdr.qcow2");
        long l2 = raw(img).l2TableOffset(0);
        Poke.u64(img, l2, COPIED | 0x200);
        assertRejected(img, Kind.CORRUPT, "points to data at 0x200 that is not aligned");
    }

    @Test
    void compressedEntryPointingIntoTheHeader() {
        Path img = withOptions("compressed", "c-hdr.qcow2", "", "8M", "write -c -P 0x5a 0 64k");
        assertReadable(img);
        long l2 = raw(img).l2TableOffset(0);
        assertTrue((Poke.readU64(img, l2) & COMPRESSED) != 0);
        Poke.u64(img, l2, COMPRESSED | 0x48);
        assertRejected(img, Kind.CORRUPT, "compressed cluster at 0x48 points into the image header");
    }

    @Test
    void compressedEntryPointingBeyondTheEndOfTheFile() {
        Path img = withOptions("compressed", "c-eof.qcow2", "", "8M", "write -c -P 0x5a 0 64k");
        long l2 = raw(img).l2TableOffset(0);
        Poke.u64(img, l2, COMPRESSED | 0x10000000L);
        assertRejected(img, Kind.CORRUPT, "compressed cluster at 0x10000000 lies beyond the end of the file");
    }

    @Test
    void compressedDataThatDoesNotDecompress() {
        Path img = withOptions("compressed", "c-bad.qcow2", "", "8M", "write -c -P 0x5a 0 64k");
        long data = Poke.readU64(img, raw(img).l2TableOffset(0)) & ((1L << 54) - 1);
        Poke.u64(img, data, -1L);
        assertRejected(img, Kind.CORRUPT, "compressed cluster at " + hex(data) + " does not decompress");
    }

    @Test
    void compressedZstdDataThatDoesNotDecompress() {
        Path img = withOptions("zstd", "z-bad.qcow2", "compression_type=zstd", "8M", "write -c -P 0x11 0 64k");
        long data = Poke.readU64(img, raw(img).l2TableOffset(0)) & ((1L << 54) - 1);
        Poke.u64(img, data, 0x28b52ffd_ffffffffL);
        assertRejected(img, Kind.CORRUPT, "compressed cluster at " + hex(data) + " does not decompress");
    }

    @Test
    void extendedL2BitmapBothAllocatedAndZero() {
        Path img = withOptions("extl2", "xl2.qcow2", "extended_l2=on", "8M", "write -P 0x44 0 64k");
        assertReadable(img);
        long l2 = raw(img).l2TableOffset(0);
        Poke.u64(img, l2 + 8, 0x00000001_ffffffffL);
        assertRejected(img, Kind.CORRUPT, "L2 table at " + hex(l2) + " entry 0 has an invalid subcluster bitmap");
    }

    @Test
    void extendedL2BitmapAllocatedInAnUnallocatedCluster() {
        Path img = withOptions("extl2", "xl2u.qcow2", "extended_l2=on", "8M", "write -P 0x44 0 64k");
        long l2 = raw(img).l2TableOffset(0);
        Poke.u64(img, l2 + 16 + 8, 0x00000000_00000001L);
        assertRejected(img, Kind.CORRUPT, "L2 table at " + hex(l2) + " entry 1 has an invalid subcluster bitmap");
    }

    // ---------------------------------------------------------------------------------------------
    // Refcount table

    @Test
    void refcountTableMisaligned() {
        Path img = withSnapshots("rt-mis.qcow2");
        Poke.u64(img, REFCOUNT_TABLE_OFFSET, 0x10008);
        assertRejected(img, Kind.CORRUPT, "refcount table offset 0x10008 is not a non-zero multiple");
    }

    @Test
    void refcountTableBeyondTheEndOfTheFile() {
        Path img = withSnapshots("rt-eof.qcow2");
        Poke.u64(img, REFCOUNT_TABLE_OFFSET, 0x10000000);
        assertRejected(img, Kind.CORRUPT, "refcount table at 0x10000000 (65536 bytes) lies beyond the end");
    }

    @Test
    void refcountTableClustersHuge() {
        Path img = withSnapshots("rt-huge.qcow2");
        Poke.u32(img, REFCOUNT_TABLE_CLUSTERS, 0xffffffffL);
        assertRejected(img, Kind.CORRUPT, "refcount table of 4294967295 clusters exceeds the 8 MiB limit");
    }

    @Test
    void refcountTableClustersZero() {
        Path img = withSnapshots("rt-zero.qcow2");
        Poke.u32(img, REFCOUNT_TABLE_CLUSTERS, 0);
        assertRejected(img, Kind.CORRUPT, "refcount table has no clusters");
    }

    // ---------------------------------------------------------------------------------------------
    // Snapshot table

    @Test
    void nbSnapshotsHuge() {
        Path img = withSnapshots("nbhuge.qcow2");
        Poke.u32(img, NB_SNAPSHOTS, 65537);
        assertRejected(img, Kind.CORRUPT, "nb_snapshots 65537 exceeds the limit of 65536");
    }

    @Test
    void nbSnapshotsAllOnes() {
        Path img = withSnapshots("nbff.qcow2");
        Poke.u32(img, NB_SNAPSHOTS, 0xffffffffL);
        assertRejected(img, Kind.CORRUPT, "nb_snapshots 4294967295 exceeds the limit of 65536");
    }

    /** More entries than fit between the table and the end of the file (each takes at least 40 bytes). */
    @Test
    void nbSnapshotsLargerThanTheTable() {
        Path img = withSnapshots("nbmore.qcow2");
        long table = Poke.readU64(img, SNAPSHOTS_OFFSET);
        long count = (fileSize(img) - table) / SnapshotEntry.FIXED_SIZE + 1;
        assertTrue(count <= 65536);
        Poke.u32(img, NB_SNAPSHOTS, count);
        assertRejected(img, Kind.CORRUPT, "snapshot table at " + hex(table) + " (entry 2 of " + count
                + ") runs past the end of the file");
    }

    @Test
    void snapshotsOffsetMisaligned() {
        Path img = withSnapshots("snoff-mis.qcow2");
        long table = Poke.readU64(img, SNAPSHOTS_OFFSET);
        Poke.u64(img, SNAPSHOTS_OFFSET, table + 8);
        assertRejected(img, Kind.CORRUPT, "snapshot table offset " + hex(table + 8) + " is not a non-zero multiple");
    }

    @Test
    void snapshotsOffsetBeyondTheEndOfTheFile() {
        Path img = withSnapshots("snoff-eof.qcow2");
        Poke.u64(img, SNAPSHOTS_OFFSET, 0x10000000);
        assertRejected(img, Kind.CORRUPT, "snapshot table at 0x10000000 lies beyond the end of the file");
    }

    @Test
    void snapshotExtraDataTooLarge() {
        Path img = withSnapshots("sn-extra.qcow2");
        Poke.u32(img, raw(img).snapshotEntryOffset(0) + SN_EXTRA_DATA_SIZE, 1025);
        assertRejected(img, Kind.CORRUPT, "snapshot table entry 0 has 1025 bytes of extra data, more than the limit");
    }

    @Test
    void snapshotExtraDataAllOnes() {
        Path img = withSnapshots("sn-extraff.qcow2");
        Poke.u32(img, raw(img).snapshotEntryOffset(1) + SN_EXTRA_DATA_SIZE, 0xffffffffL);
        assertRejected(img, Kind.CORRUPT, "snapshot table entry 1 has 4294967295 bytes of extra data");
    }

    @Test
    void snapshotIdSizePastTheEndOfTheTable() {
        Path img = withSnapshots("sn-id.qcow2");
        Poke.u16(img, raw(img).snapshotEntryOffset(1) + SN_ID_STR_SIZE, 0xffff);
        assertRejected(img, Kind.CORRUPT, "(entry 1 of 2) runs past the end of the file");
    }

    @Test
    void snapshotNameSizePastTheEndOfTheTable() {
        Path img = withSnapshots("sn-name.qcow2");
        Poke.u16(img, raw(img).snapshotEntryOffset(0) + SN_NAME_SIZE, 0xffff);
        assertRejected(img, Kind.CORRUPT, "(entry 0 of 2) runs past the end of the file");
    }

    @Test
    void snapshotL1SizeHuge() {
        Path img = withSnapshots("sn-l1huge.qcow2");
        Poke.u32(img, raw(img).snapshotEntryOffset(0) + SN_L1_SIZE, 0x10000000);
        assertRejected(img, Kind.CORRUPT, "L1 table of snapshot 1 of 268435456 entries exceeds the 32 MiB limit");
    }

    @Test
    void snapshotL1OffsetMisaligned() {
        Path img = withSnapshots("sn-l1mis.qcow2");
        long entry = raw(img).snapshotEntryOffset(1);
        long l1 = Poke.readU64(img, entry + SN_L1_TABLE_OFFSET);
        Poke.u64(img, entry + SN_L1_TABLE_OFFSET, l1 + 8);
        assertRejected(img, Kind.CORRUPT, "L1 table of snapshot 2 offset " + hex(l1 + 8) + " is not aligned");
    }

    @Test
    void snapshotL1OffsetBeyondTheEndOfTheFile() {
        Path img = withSnapshots("sn-l1eof.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(0) + SN_L1_TABLE_OFFSET, 0x10000000);
        assertRejected(img, Kind.CORRUPT, "L1 table of snapshot 1 at 0x10000000 (8 bytes) lies beyond the end");
    }

    @Test
    void snapshotL1OffsetZero() {
        Path img = withSnapshots("sn-l1zero.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(0) + SN_L1_TABLE_OFFSET, 0);
        assertRejected(img, Kind.CORRUPT, "L1 table of snapshot 1 offset 0x0 is not aligned");
    }

    @Test
    void snapshotDiskSizeNegative() {
        Path img = withSnapshots("sn-sizeneg.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(0) + SN_DISK_SIZE, -512);
        assertRejected(img, Kind.CORRUPT, "snapshot table entry 0 has an invalid disk size 18446744073709551104");
    }

    /** QEMU always gives a snapshot an L1 table that covers its disk; a bigger disk is corrupt. */
    @Test
    void snapshotDiskSize2To62() {
        Path img = withSnapshots("sn-size62.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(1) + SN_DISK_SIZE, 1L << 62);
        assertRejected(img, Kind.CORRUPT, "snapshot 2 has a disk size of 4611686018427387904 bytes",
                "its L1 table has only 1 entries");
    }

    @Test
    void snapshotDiskSizeBeyondItsL1Table() {
        Path img = withSnapshots("sn-size1t.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(0) + SN_DISK_SIZE, 1L << 40);
        assertRejected(img, Kind.CORRUPT, "snapshot 1 has a disk size of 1099511627776 bytes",
                "needs 2048 L1 entries");
    }

    @Test
    void snapshotVmStateSizeBeyondItsL1Table() {
        Path img = withSnapshots("sn-vmhuge.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(0) + SN_VM_STATE_SIZE_LARGE, 1L << 62);
        assertRejected(img, Kind.CORRUPT, "snapshot 1 VM state of 4611686018427387904 bytes",
                "past its L1 table of 1 entries");
    }

    @Test
    void snapshotVmStateSizeNegative() {
        Path img = withSnapshots("sn-vmneg.qcow2");
        Poke.u64(img, raw(img).snapshotEntryOffset(0) + SN_VM_STATE_SIZE_LARGE, -1L);
        assertRejected(img, Kind.CORRUPT, "snapshot 1 has an invalid VM state size 18446744073709551615");
    }

    // ---------------------------------------------------------------------------------------------
    // Header extensions and backing files

    @Test
    void headerExtensionWithAHugeLength() {
        Path img = withSnapshots("ext.qcow2");
        long ext = Poke.readU32(img, HEADER_LENGTH);
        Poke.u32(img, ext + 4, 0xfffffff0L);
        assertRejected(img, Kind.CORRUPT, "header extension 0x6803f857 at " + hex(ext)
                + " claims 4294967280 bytes, more than the header area holds");
    }

    /** A base image with data and a top image on it, in {@link #dir}; returns the top. */
    private Path withBacking(String topName) {
        Path base = dir.resolve("base.qcow2");
        Qemu.create(base, "8M", "");
        Qemu.io(base, "write -P 0x61 0 128k");
        Path top = dir.resolve(topName);
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top.toString(), "8M");
        Qemu.io(top, "write -P 0x62 64k 64k");
        assertReadable(top);
        assertEquals("base.qcow2".length(), Poke.readU32(top, BACKING_FILE_SIZE));
        return top;
    }

    @Test
    void backingFileOffsetOutsideTheFirstCluster() {
        Path top = withBacking("bfo.qcow2");
        Poke.u64(top, BACKING_FILE_OFFSET, 0x20000);
        assertRejected(top, Kind.CORRUPT, "backing_file_offset 0x20000 lies outside the first cluster");
    }

    @Test
    void backingFileNameRunsPastTheFirstCluster() {
        Path top = withBacking("bfo2.qcow2");
        Poke.u64(top, BACKING_FILE_OFFSET, 0xfffc);
        assertRejected(top, Kind.CORRUPT, "backing file name at 0xfffc runs past the end of the first cluster");
    }

    @Test
    void backingFileSizeTooLarge() {
        Path top = withBacking("bfs.qcow2");
        Poke.u32(top, BACKING_FILE_SIZE, 1024);
        assertRejected(top, Kind.CORRUPT, "backing file name of 1024 bytes exceeds the limit of 1023");
    }

    /** QEMU reads the name as a C string: a NUL ends it. */
    @Test
    void backingFileNameWithANul() {
        Path top = withBacking("bnul.qcow2");
        Poke.u8(top, Poke.readU64(top, BACKING_FILE_OFFSET) + 4, 0);
        assertRejected(top, Kind.NOT_FOUND, "backing file 'base' not found");
    }

    @Test
    void backingFileMissing() throws IOException {
        Path top = withBacking("bmiss.qcow2");
        Files.delete(dir.resolve("base.qcow2"));
        assertRejected(top, Kind.NOT_FOUND, "backing file 'base.qcow2' not found");
    }

    @Test
    void backingFileCorrupt() {
        Path top = withBacking("bcorrupt.qcow2");
        Poke.u32(dir.resolve("base.qcow2"), CLUSTER_BITS, 30);
        assertRejectedAs(top, "base.qcow2", Kind.CORRUPT, "cluster_bits 30 is outside the valid range");
    }

    @Test
    void backingLoopOfTwo() throws IOException {
        Path a = Qemu.create(dir.resolve("a.qcow2"), "8M", "");
        Path b = Qemu.create(dir.resolve("b.qcow2"), "8M", "");
        Qemu.img("rebase", "-u", "-b", "a.qcow2", "-F", "qcow2", b.toString());
        assertReadable(a);
        assertReadable(b);
        Qemu.img("rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", a.toString());
        assertRejected(a, Kind.CORRUPT, "backing chain loops back to " + a.toRealPath());
        assertRejected(b, Kind.CORRUPT, "backing chain loops back to " + b.toRealPath());
    }

    @Test
    void backingLoopOfOne() throws IOException {
        Path a = Qemu.create(dir.resolve("self.qcow2"), "8M", "");
        Qemu.io(a, "write -P 0x01 0 64k");
        assertReadable(a);
        Qemu.img("rebase", "-u", "-b", "self.qcow2", "-F", "qcow2", a.toString());
        assertRejected(a, Kind.CORRUPT, "backing chain loops back to " + a.toRealPath());
    }

    /**
     * A chain of MAX_DEPTH + 1 images is refused, and one of MAX_DEPTH reads. The images are copies
     * of one tiny image whose backing file name is then poked: c000 -> c001 -> ... -> c256.
     */
    @Test
    void backingChainDeeperThanTheLimit() throws IOException {
        int n = BackingChain.MAX_DEPTH + 1;
        Path last = Qemu.create(dir.resolve(chainName(n - 1)), "1M", "cluster_size=512");
        Path template = dir.resolve("chain-template");
        Qemu.img("create", "-q", "-f", "qcow2", "-u", "-b", chainName(1), "-F", "qcow2", "-o", "cluster_size=512",
                template.toString(), "1M");
        long nameOffset = Poke.readU64(template, BACKING_FILE_OFFSET);
        for (int i = 0; i < n - 1; i++) {
            Path p = Files.copy(template, dir.resolve(chainName(i)));
            Poke.bytes(p, nameOffset, chainName(i + 1).getBytes(StandardCharsets.US_ASCII));
        }
        Qemu.io(last, "write -P 0x77 0 512");
        assertReadable(dir.resolve(chainName(1)));
        assertRejectedAs(dir.resolve(chainName(0)), chainName(n - 1), Kind.UNSUPPORTED,
                "backing chain is deeper than " + BackingChain.MAX_DEPTH + " images");
    }

    // ---------------------------------------------------------------------------------------------
    // External data files, and files that are not files

    /** An image with an external data file df.raw, in {@link #dir}. */
    private Path withDataFile(String name) {
        Path img = dir.resolve(name);
        // qemu-img create takes a relative data_file name relative to its working directory.
        Qemu.create(img, "8M", "data_file=" + dir.resolve("df.raw"));
        Qemu.io(img, "write -P 0x55 0 128k");
        assertReadable(img);
        return img;
    }

    @Test
    void dataFileMissing() throws IOException {
        Path img = withDataFile("dfmiss.qcow2");
        Files.delete(dir.resolve("df.raw"));
        assertRejected(img, Kind.NOT_FOUND, "external data file '" + dir.resolve("df.raw") + "' not found");
    }

    @Test
    void dataFileNameEmpty() {
        Path img = withDataFile("dfempty.qcow2");
        long ext = Poke.readU32(img, HEADER_LENGTH);
        assertEquals(0x44415441L, Poke.readU32(img, ext));
        Poke.u8(img, ext + 8, 0);
        assertRejected(img, Kind.UNSUPPORTED, "needs an external data file but its header does not name one");
    }

    @Test
    void dataFileIsADirectory() throws IOException {
        Path img = withDataFile("dfdir.qcow2");
        Files.delete(dir.resolve("df.raw"));
        Files.createDirectory(dir.resolve("df.raw"));
        assertRejected(img, Kind.IO, "cannot open external data file", "Is a directory");
    }

    /** QEMU 7.2 calls an external data file cluster that is not at its guest offset corrupt. */
    @Test
    void dataClusterAwayFromItsGuestOffset() {
        Path img = withDataFile("dfmoved.qcow2");
        Poke.u64(img, raw(img).l2TableOffset(0), COPIED | 0x10000L);
        assertRejected(img, Kind.CORRUPT, "entry 0 maps guest cluster 0x0 to 0x10000 in the external data file,"
                + " which must be the same offset");
    }

    @Test
    void dataClusterBeyondTheEndOfTheDataFile() {
        Path img = withDataFile("dfeof.qcow2");
        Poke.u64(img, raw(img).l2TableOffset(0), COPIED | 0x10000000L);
        assertRejected(img, Kind.CORRUPT, "data cluster at 0x10000000 for guest offset 0x0 lies beyond the end");
    }

    @Test
    void backingFileIsADirectory() throws IOException {
        Path top = withBacking("bdir.qcow2");
        Files.delete(dir.resolve("base.qcow2"));
        Files.createDirectory(dir.resolve("base.qcow2"));
        assertRejectedAs(top, "base.qcow2", Kind.IO, "Is a directory");
    }

    @Test
    void rawBackingFileIsADirectory() throws IOException {
        Path top = dir.resolve("rawdir.qcow2");
        Files.createDirectory(dir.resolve("base.raw"));
        Qemu.img("create", "-q", "-f", "qcow2", "-u", "-b", "base.raw", "-F", "raw", top.toString(), "8M");
        assertRejected(top, Kind.IO, "cannot open backing file", "Is a directory");
    }

    @Test
    void imageIsADirectory() throws IOException {
        Path d = Files.createDirectory(dir.resolve("dir.qcow2"));
        assertRejected(d, Kind.IO, "Is a directory");
    }

    /** A failed open closes every file it opened, the backing files' included. */
    @Test
    void failedOpensDoNotLeakFileDescriptors() throws IOException {
        Path top = withBacking("leak.qcow2");
        // The base opens, then fails when the top asks for its active view (a misaligned L2 offset).
        Path base = dir.resolve("base.qcow2");
        Poke.u64(base, raw(base).l1TableOffset(), COPIED | (raw(base).l2TableOffset(0) + 0x200));
        Path l2 = withSnapshots("leak2.qcow2");
        Poke.u64(l2, raw(l2).l1TableOffset(), COPIED | 0x10000000L);
        long before = openFileDescriptors();
        for (int i = 0; i < 10; i++) {
            assertThrows(ImageException.class, () -> ReadAll.image(top, CHUNK));
            assertThrows(ImageException.class, () -> ReadAll.image(l2, CHUNK));
        }
        assertEquals(before, openFileDescriptors(), "file descriptors leaked by failed opens");
    }

    private static long openFileDescriptors() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static String chainName(int i) {
        return String.format("c%03d.qcow2", i);
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
