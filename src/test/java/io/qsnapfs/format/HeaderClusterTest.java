package io.qsnapfs.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The header of a new image: what {@link HeaderCluster} encodes, {@link QcowHeader#parse} reads back. */
class HeaderClusterTest {
    private static final List<FeatureName> INCOMPLETE = List.of(new FeatureName(QcowHeader.FEATURE_INCOMPATIBLE, 63,
            Features.EXPORT_INCOMPLETE_NAME));

    @Test
    void everyFieldReadsBack() throws FormatException {
        HeaderCluster h = new HeaderCluster(16, 5_000_000_000L, 10, 0x70000, 0x90000, 2, 0, 4, "../base image.raw",
                "raw", List.of(new FeatureName(QcowHeader.FEATURE_COMPATIBLE, 0, "lazy refcounts")));
        ByteBuffer cluster = h.encode();
        assertEquals(0, cluster.position());
        assertEquals(65536, cluster.limit());
        QcowHeader p = QcowHeader.parse(cluster);
        assertEquals(3, p.version());
        assertEquals(16, p.clusterBits());
        assertEquals(5_000_000_000L, p.size());
        assertEquals(0, p.cryptMethod());
        assertEquals(10, p.l1Size());
        assertEquals(0x70000, p.l1TableOffset());
        assertEquals(0x90000, p.refcountTableOffset());
        assertEquals(2, p.refcountTableClusters());
        assertEquals(0, p.nbSnapshots());
        assertEquals(0, p.snapshotsOffset());
        assertEquals(0, p.incompatibleFeatures());
        assertEquals(0, p.compatibleFeatures());
        assertEquals(0, p.autoclearFeatures());
        assertEquals(4, p.refcountOrder());
        assertEquals(QcowHeader.V3_MIN_HEADER_LENGTH, p.headerLength());
        assertEquals(Features.COMPRESSION_ZLIB, p.compressionType());
        assertEquals("../base image.raw", p.backingFileName());
        assertEquals("raw", p.backingFormat());
        assertEquals("lazy refcounts", p.featureName(QcowHeader.FEATURE_COMPATIBLE, 0));
        assertNull(p.featureName(QcowHeader.FEATURE_INCOMPATIBLE, 0));
        // The extensions start at header_length, 8-byte aligned, and the name follows the end marker.
        assertEquals(104, p.extensions().get(0).offset());
        assertEquals(104 + 16, p.extensions().get(1).offset());
        assertEquals(104 + 16 + 8 + 48 + 8, p.backingFileOffset());
        assertEquals(17, p.backingFileSize());
        assertEquals(p.backingFileOffset() + p.backingFileSize(), h.encodedLength());
        for (int i = h.encodedLength(); i < cluster.limit(); i++) {
            assertEquals(0, cluster.get(i), "byte " + i + " past the header");
        }
    }

    @Test
    void withoutBackingFileOrNamesOnlyTheEndMarkerFollows() throws FormatException {
        HeaderCluster h = new HeaderCluster(9, 0, 0, 0, 0x400, 1, 0, 4, null, null, List.of());
        assertEquals(112, h.encodedLength());
        QcowHeader p = QcowHeader.parse(h.encode());
        assertEquals(0, p.backingFileOffset());
        assertEquals(0, p.backingFileSize());
        assertNull(p.backingFileName());
        assertNull(p.backingFormat());
        assertTrue(p.extensions().isEmpty());
        assertEquals(0, p.size());
        assertEquals(512, p.clusterSize());
    }

    @Test
    void theIncompleteBitIsRefusedByNameBeforeAnyTableIsLookedAt() {
        // As an export writes it first: no L1 or refcount table yet.
        HeaderCluster first = new HeaderCluster(16, 1 << 20, 1, 0, 0, 0, Features.INCOMPAT_EXPORT_INCOMPLETE, 4,
                "b.qcow2", "qcow2", INCOMPLETE);
        FormatException e = assertThrows(FormatException.class, () -> QcowHeader.parse(first.encode()));
        assertTrue(e.isUnsupported());
        assertTrue(e.getMessage().contains("bit 63 (" + Features.EXPORT_INCOMPLETE_NAME + ")"), e.getMessage());
        // With its tables in place, clearing the bit in place makes the same bytes a valid header.
        HeaderCluster done = new HeaderCluster(16, 1 << 20, 1, 0x20000, 0x30000, 1,
                Features.INCOMPAT_EXPORT_INCOMPLETE, 4, "b.qcow2", "qcow2", INCOMPLETE);
        assertThrows(FormatException.class, () -> QcowHeader.parse(done.encode()));
        ByteBuffer cluster = done.encode();
        cluster.put(HeaderFields.INCOMPATIBLE_OFFSET, HeaderFields.incompatible(0), 0, 8);
        assertEquals(Features.EXPORT_INCOMPLETE_NAME,
                parse(cluster).featureName(QcowHeader.FEATURE_INCOMPATIBLE, 63));
    }

    @Test
    void aHeaderThatDoesNotFitItsClusterIsRefused() {
        String name = "n".repeat(QcowHeader.MAX_BACKING_NAME);
        HeaderCluster small = new HeaderCluster(9, 0, 0, 0, 0, 0, 0, 4, name, "qcow2", INCOMPLETE);
        assertTrue(small.encodedLength() > 512);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, small::encode);
        assertTrue(e.getMessage().contains("does not fit in a cluster of 512 bytes"), e.getMessage());
        HeaderCluster large = new HeaderCluster(11, 0, 0, 0, 0x800, 1, 0, 4, name, "qcow2", INCOMPLETE);
        assertEquals(name, parse(large.encode()).backingFileName());
    }

    @Test
    void impossibleFieldsAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(8, 0, 0, 0, 0, 0, 0, 4, null, null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(22, 0, 0, 0, 0, 0, 0, 4, null, null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(16, -1, 0, 0, 0, 0, 0, 4, null, null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(16, 0, 0, 0, 0, 0, 0, 7, null, null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(16, 0, 0, 0, 0, 0, 0, 4, "n".repeat(1024), null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(16, 0, 0, 0, 0, 0, 0, 4, "", null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(16, 0, 0, 0, 0, 0, 0, 4, "a\0b", null, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> new HeaderCluster(16, 0, 0, 0, 0, 0, 0, 4, null, "raw", List.of()));
    }

    @Test
    void featureNamesTakeFortyEightBytesEach() {
        byte[] table = FeatureName.table(List.of(new FeatureName(0, 63, "x"),
                new FeatureName(2, 1, "n".repeat(FeatureName.MAX_NAME_BYTES))));
        assertEquals(96, table.length);
        assertEquals(0, table[0]);
        assertEquals(63, table[1]);
        assertEquals('x', table[2]);
        assertEquals(0, table[3]);
        assertEquals(2, table[48]);
        assertEquals(1, table[49]);
        assertEquals("x", FeatureName.find(table, 0, 63));
        assertEquals("n".repeat(FeatureName.MAX_NAME_BYTES), FeatureName.find(table, 2, 1));
        assertNull(FeatureName.find(table, 1, 63));
        assertThrows(IllegalArgumentException.class, () -> new FeatureName(0, 1, "n".repeat(47)));
        assertThrows(IllegalArgumentException.class, () -> new FeatureName(3, 1, "x"));
        assertThrows(IllegalArgumentException.class, () -> new FeatureName(0, 64, "x"));
    }

    private static QcowHeader parse(ByteBuffer cluster) {
        try {
            return QcowHeader.parse(cluster);
        } catch (FormatException e) {
            throw new AssertionError(e);
        }
    }
}
