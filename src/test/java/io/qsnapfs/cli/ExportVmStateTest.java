package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import io.qsnapfs.testing.TableWalk;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs export IMAGE --snapshot ID_OR_NAME --vm-state OUT} on snapshots a real QEMU saved:
 * the bytes the independent walker finds at the snapshot's VM-state offsets, to a file and to
 * standard output; refused for a disk-only snapshot and with the options that are for disks.
 */
class ExportVmStateTest {
    /** vm.qcow2: snapshot 1 "diskonly" (qemu-img), 2 "one" and 3 "two" (savevm), the disk written between. */
    @TempDir
    static Path fixtures;
    private static Path img;

    @TempDir
    Path dir;

    @BeforeAll
    static void makeImage() {
        img = Qemu.create(fixtures.resolve("vm.qcow2"), "8M", "cluster_size=4096");
        Qemu.io(img, "write -P 0x11 0 1M");
        Qemu.snapshot(img, "diskonly");
        try (QemuVm vm = QemuVm.start(img)) {
            vm.savevm("one");
            vm.qemuIo("write -P 0x22 0 64k");
            vm.savevm("two");
        }
    }

    @Test
    void writesTheWalkersBytesToAFileAndToStandardOutput() throws Exception {
        TableWalk walk = TableWalk.of(img);
        Map<String, Long> qemuSizes = Qemu.vmStateSizes(img);
        for (int index : new int[] {1, 2}) {
            String id = walk.snapshotEntry(index).idString();
            String name = walk.snapshotEntry(index).nameString();
            byte[] expected = walk.vmState(index);
            assertEquals((long) qemuSizes.get(id), expected.length, "qemu-img's VM state size");
            assertEquals(0x5145564d, ByteBuffer.wrap(expected).getInt(0), "QEVM");
            for (String which : new String[] {id, name}) {
                Path out = dir.resolve("state-" + which + ".vmstate");
                CliRun r = CliRun.of("export", img.toString(), "--snapshot", which, "--vm-state", out.toString());
                assertEquals(0, r.status(), r.toString());
                assertEquals("", r.err());
                Bytes.assertSameBytes(expected, Files.readAllBytes(out), "export --vm-state of snapshot " + which);
            }
            CliRun r = CliRun.of("export", img.toString(), "-s", id, "--vm-state", "-");
            assertEquals(0, r.status(), r.toString());
            Bytes.assertSameBytes(expected, r.out(), "export --vm-state of snapshot " + id + " to standard output");
        }
        // the disk of a savevm snapshot is exported as ever, without its VM state
        Path disk = dir.resolve("one.raw");
        assertEquals(0, CliRun.of("export", img.toString(), "-s", "one", disk.toString()).status());
        Bytes.assertSameBytes(Qemu.snapshotBytes(img, "2", dir), Files.readAllBytes(disk), "the disk of snapshot one");
    }

    @Test
    void qemuImgListsTheSizeOfTheExportedVmStateAndSnapshotListAgrees() throws Exception {
        String listing = new String(Qemu.snapshotList(img, "UTC"), java.nio.charset.StandardCharsets.UTF_8);
        for (String id : new String[] {"2", "3"}) {
            Path out = dir.resolve(id + ".vmstate");
            assertEquals(0, CliRun.of("export", img.toString(), "-s", id, "--vm-state", out.toString()).status());
            String line = listing.lines().filter(l -> l.startsWith(id + " ")).findFirst().orElseThrow();
            assertTrue(line.contains(" " + QemuSize.of(Files.size(out)) + " "), "qemu-img snapshot -l VM SIZE of " + id
                    + ": " + line + " (exported " + Files.size(out) + " bytes)");
        }
        SnapshotListTest.assertSameAsQemu(img); // VM SIZE and VM CLOCK of savevm snapshots too
    }

    @Test
    void refusesADiskOnlySnapshotAndTheOptionsForDisks() {
        Path out = dir.resolve("out.vmstate");
        CliRun none = CliRun.of("export", img.toString(), "-s", "diskonly", "--vm-state", out.toString());
        assertEquals(1, none.status(), none.toString());
        assertEquals("qsnapfs: vm.qcow2: snapshot 'diskonly' (ID 1) has no VM state: it is a disk-only snapshot"
                + " (only a running QEMU saves VM state, with savevm)\n", none.err());
        assertTrue(Files.notExists(out), "nothing written");

        CliRun noSnapshot = CliRun.of("export", img.toString(), "--vm-state", out.toString());
        assertEquals(2, noSnapshot.status(), noSnapshot.toString());
        assertTrue(noSnapshot.err().contains("--vm-state needs --snapshot ID_OR_NAME"), noSnapshot.err());
        for (String[] extra : new String[][] {{"-O", "qcow2"}, {"--since", "one", "--in-place"}, {"--since", "one"},
            {"--in-place"}, {"-B", "x.raw"}, {"-F", "raw"}}) {
            List<String> args = new ArrayList<>(List.of("export", img.toString(), "-s", "two", "--vm-state"));
            args.addAll(List.of(extra));
            args.add(out.toString());
            CliRun r = CliRun.of(args.toArray(new String[0]));
            assertEquals(2, r.status(), String.join(" ", extra) + ": " + r);
            assertTrue(r.err().contains("--vm-state writes the VM state as raw bytes; it does not go with -O qcow2,"
                    + " --since, --in-place, -B or -F"), r.err());
        }
        assertTrue(Files.notExists(out), "nothing written");
    }
}
