package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qsnapfs.format.L2Entry;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.SnapshotEntryPoker;
import io.qsnapfs.testing.TableWalk;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qsnapfs info} in both output forms, on images of every kind QEMU makes. */
class InfoTest {
    /** The top-level JSON fields, in their documented, stable order. */
    private static final List<String> JSON_FIELDS = List.of("file", "path", "format", "version", "compat",
            "virtual_size", "file_length", "cluster_size", "cluster_bits", "refcount_bits", "compression_type",
            "extended_l2", "lazy_refcounts", "corrupt", "dirty", "incompatible_features", "compatible_features",
            "autoclear_features", "backing", "data_file", "header_extensions", "snapshots");
    private static final List<String> SNAPSHOT_FIELDS = List.of("id", "name", "vm_state_size", "disk_size",
            "disk_size_recorded", "date", "date_sec", "date_nsec", "vm_clock_nsec", "icount", "l1_table_offset",
            "l1_size", "extra_data_size", "exclusive_bytes");

    @TempDir
    Path dir;

    private static String human(Path image) {
        CliRun r = CliRun.of("info", image.toString());
        assertEquals(0, r.status(), r.toString());
        assertEquals("", r.err());
        return r.outText();
    }

    private static JsonNode json(Path image) throws Exception {
        CliRun r = CliRun.of("info", "--output", "json", image.toString());
        assertEquals(0, r.status(), r.toString());
        JsonNode node = new ObjectMapper().readTree(r.out());
        assertEquals(JSON_FIELDS, names(node));
        for (JsonNode s : node.get("snapshots")) {
            assertEquals(SNAPSHOT_FIELDS, names(s));
        }
        return node;
    }

    private static List<String> names(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void version3ImageWithSnapshots() throws Exception {
        Path img = Qemu.create(dir.resolve("v3.qcow2"), "64M", "");
        Qemu.io(img, "write -P 0x11 0 1M");
        Qemu.snapshot(img, "first");
        Qemu.snapshot(img, "second snapshot");
        SnapshotEntryPoker.of(img).icount(1, -1);

        String text = human(img);
        assertTrue(text.startsWith("image: " + img + "\n"), text);
        assertTrue(text.contains("\nversion: 3 (compat 1.1)\n"), text);
        assertTrue(text.contains("\nvirtual size: 64 MiB (67108864 bytes)\n"), text);
        assertTrue(text.contains("\ncluster size: 65536 (cluster_bits 16)\n"), text);
        assertTrue(text.contains("\nrefcount bits: 16\n"), text);
        assertTrue(text.contains("\ncompression type: zlib\n"), text);
        assertTrue(text.contains("\nextended L2: no\n"), text);
        assertTrue(text.contains("\nbacking file: none\n"), text);
        assertTrue(text.contains("\ndata file: none\n"), text);
        assertTrue(text.contains("feature name table"), text);
        // The snapshot table is qemu-img's, line for line.
        String qemu = new String(Qemu.snapshotList(img, TimeZone.getDefault().getID()),
                StandardCharsets.UTF_8);
        assertTrue(text.endsWith(qemu), text + "\nshould end with\n" + qemu);

        JsonNode j = json(img);
        assertEquals(3, j.get("version").asInt());
        assertEquals("1.1", j.get("compat").asText());
        assertEquals(67108864L, j.get("virtual_size").asLong());
        assertEquals(65536, j.get("cluster_size").asInt());
        assertEquals("zlib", j.get("compression_type").asText());
        assertTrue(j.get("backing").isNull());
        assertTrue(j.get("data_file").isNull());
        assertEquals(2, j.get("snapshots").size());
        JsonNode s1 = j.get("snapshots").get(0);
        assertEquals("1", s1.get("id").asText());
        assertEquals("first", s1.get("name").asText());
        assertEquals(67108864L, s1.get("disk_size").asLong());
        assertTrue(s1.get("disk_size_recorded").asBoolean());
        assertEquals(0, s1.get("icount").asLong());
        assertTrue(j.get("snapshots").get(1).get("icount").isNull(), "icount -1 is unknown");
        assertEquals("second snapshot", j.get("snapshots").get(1).get("name").asText());
    }

    @Test
    void version2Image() throws Exception {
        Path img = Qemu.create(dir.resolve("v2.qcow2"), "8M", "compat=0.10");
        Qemu.snapshot(img, "old");
        String text = human(img);
        assertTrue(text.contains("\nversion: 2 (compat 0.10)\n"), text);
        assertTrue(text.contains("\nheader extensions: none\n"), text);
        JsonNode j = json(img);
        assertEquals(2, j.get("version").asInt());
        assertEquals("0.10", j.get("compat").asText());
        assertEquals(16, j.get("refcount_bits").asInt());
        assertEquals(0, j.get("header_extensions").size());
        assertEquals(1, j.get("snapshots").size());
    }

    @Test
    void zstdExtendedL2LazyRefcountsImage() throws Exception {
        Path img = Qemu.create(dir.resolve("ext.qcow2"), "32M",
                "compression_type=zstd,extended_l2=on,cluster_size=128k,lazy_refcounts=on,refcount_bits=64");
        Qemu.snapshot(img, "x");
        String text = human(img);
        assertTrue(text.contains("\ncompression type: zstd\n"), text);
        assertTrue(text.contains("\nextended L2: yes\n"), text);
        assertTrue(text.contains("\nlazy refcounts: yes\n"), text);
        assertTrue(text.contains("\nrefcount bits: 64\n"), text);
        assertTrue(text.contains("\ncluster size: 131072 (cluster_bits 17)\n"), text);
        assertTrue(text.contains("\nincompatible features: 0x18 (compression type, extended L2 entries)\n"), text);
        assertTrue(text.contains("\ncompatible features: 0x1 (lazy refcounts)\n"), text);
        JsonNode j = json(img);
        assertEquals("zstd", j.get("compression_type").asText());
        assertTrue(j.get("extended_l2").asBoolean());
        assertTrue(j.get("lazy_refcounts").asBoolean());
        assertEquals(0x18, j.get("incompatible_features").get("value").asLong());
        assertEquals(3, j.get("incompatible_features").get("bits").get(0).get("bit").asInt());
        assertEquals("extended L2 entries", j.get("incompatible_features").get("bits").get(1).get("name").asText());
        assertEquals(64, j.get("refcount_bits").asInt());
    }

    @Test
    void backingChainIsResolvedRelativeToTheImage() throws Exception {
        Path raw = dir.resolve("base.raw");
        Qemu.img("create", "-q", "-f", "raw", raw.toString(), "8M");
        Path mid = dir.resolve("mid.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", mid.toString());
        Path top = dir.resolve("top.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top.toString());
        Qemu.snapshot(top, "on-top");

        String text = human(top);
        assertTrue(text.contains("\nbacking file: mid.qcow2 (actual path: " + mid + ")\n"), text);
        assertTrue(text.contains("\nbacking file format: qcow2\n"), text);
        assertTrue(text.contains("\n  backing file: base.raw (actual path: " + raw + ")\n"), text);
        assertTrue(text.contains("\n  backing file format: raw\n"), text);
        assertTrue(text.contains("backing format, 5 bytes"), text);

        JsonNode b = json(top).get("backing");
        assertEquals("mid.qcow2", b.get("file").asText());
        assertEquals("qcow2", b.get("format").asText());
        assertEquals("qcow2", b.get("format_in_header").asText());
        assertEquals(mid.toString(), b.get("path").asText());
        JsonNode b2 = b.get("backing");
        assertEquals("raw", b2.get("format").asText());
        assertEquals(raw.toString(), b2.get("path").asText());
        assertTrue(b2.get("backing").isNull());
    }

    @Test
    void externalDataFileIsShown() throws Exception {
        Path img = dir.resolve("ext-data.qcow2");
        Path data = dir.resolve("ext-data.raw");
        Qemu.img("create", "-q", "-f", "qcow2", "-o", "data_file=" + data, img.toString(), "4M");
        String text = human(img);
        assertTrue(text.contains("\ndata file: " + data + " (actual path: " + data + ")\n"), text);
        assertTrue(text.contains("external data file"), text);
        JsonNode d = json(img).get("data_file");
        assertEquals(data.toString(), d.get("file").asText());
        assertEquals(data.toString(), d.get("path").asText());
    }

    @Test
    void unknownHeaderExtensionsAreListed() throws Exception {
        Path img = Qemu.create(dir.resolve("unknown-ext.qcow2"), "4M", "");
        SnapshotEntryPoker.addHeaderExtension(img, 0x12345678, new byte[13]);
        Qemu.snapshot(img, "still readable by qemu");
        String text = human(img);
        assertTrue(text.contains("\n    0x12345678 unknown, 13 bytes at offset 112\n"), text);
        JsonNode ext = json(img).get("header_extensions");
        assertEquals("0x12345678", ext.get(0).get("type").asText());
        assertFalse(ext.get(0).get("known").asBoolean());
        assertEquals(13, ext.get(0).get("length").asInt());
        assertEquals("feature name table", ext.get(1).get("name").asText());
    }

    @Test
    void dirtyAndCorruptBitsAreShown() throws Exception {
        Path img = Qemu.create(dir.resolve("bits.qcow2"), "4M", "lazy_refcounts=on");
        SnapshotEntryPoker.incompatibleFeatures(img, 0x3);
        String text = human(img);
        assertTrue(text.contains("\ncorrupt: yes\n"), text);
        assertTrue(text.contains("\ndirty: yes\n"), text);
        assertTrue(text.contains("\nincompatible features: 0x3 (dirty bit, corrupt bit)\n"), text);
        assertTrue(text.contains("\nsnapshots: none\n"), text);
        JsonNode j = json(img);
        assertTrue(j.get("corrupt").asBoolean());
        assertTrue(j.get("dirty").asBoolean());
        assertEquals(0, j.get("snapshots").size());
    }

    @Test
    void exclusiveBytesAreQemusAndNullWhereTheTablesAreCorrupt() throws Exception {
        Path img = Qemu.create(dir.resolve("excl.qcow2"), "16M", "");
        Qemu.io(img, "write -P 1 0 2M");
        Qemu.snapshot(img, "a");
        Qemu.io(img, "write -P 2 0 1M");
        Qemu.snapshot(img, "b");
        Qemu.io(img, "discard 0 16M");
        JsonNode snapshots = json(img).get("snapshots");
        for (JsonNode s : snapshots) {
            Oracle.assertDeletionFrees(img, s.get("name").asText(), s.get("exclusive_bytes").asLong(), dir);
        }
        // a misaligned data cluster in snapshot a's tables: it gets null, the other its figure
        long l2 = Poke.readU64(img, TableWalk.of(img).snapshotEntry(0).l1TableOffset()) & L2Entry.OFFSET_MASK;
        Poke.u64(img, l2, Poke.readU64(img, l2) + 512);
        JsonNode damaged = json(img).get("snapshots");
        assertTrue(damaged.get(0).get("exclusive_bytes").isNull(), damaged.toString());
        assertEquals(snapshots.get(1).get("exclusive_bytes"), damaged.get(1).get("exclusive_bytes"));
    }

    @Test
    void hugeUnsignedValuesStayExactInJson() throws Exception {
        Path img = Qemu.create(dir.resolve("big.qcow2"), "4M", "");
        Qemu.snapshot(img, "s");
        SnapshotEntryPoker.of(img).vmStateSize(0, -1L).vmClockNsec(0, Long.MIN_VALUE);
        JsonNode s = json(img).get("snapshots").get(0);
        assertEquals("18446744073709551615", s.get("vm_state_size").asText());
        assertEquals("9223372036854775808", s.get("vm_clock_nsec").asText());
    }
}
