package io.qsnapfs.engine.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import io.qsnapfs.testing.TableWalk;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The VM state of snapshots a real QEMU saved ({@code savevm} in a running {@code
 * qemu-system-x86_64}), read through {@link QcowImage#vmStateView}: the bytes the independent
 * walker finds at the snapshot's VM-state offsets through the snapshot's own tables, the bytes
 * QEMU itself reads back from a reverted copy, QEMU's migration stream magic at the start, and
 * {@code qemu-img}'s VM state size. Over cluster sizes that put the VM state in one L2 table or
 * in dozens, extended L2, a disk size that is no multiple of what an L1 entry covers, and an
 * image grown between two {@code savevm}s, so that snapshots keep their VM state at different
 * offsets.
 */
class SavedVmStateTest {
    /** "QEVM", QEMU's migration stream magic, first in every saved VM state. */
    static final int QEVM = 0x5145564d;

    /** The disk's size: 5 MiB and 512 bytes. */
    private static final long DISK = (5 << 20) + 512;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cluster_size=512", "cluster_size=65536", "cluster_size=2097152",
        "cluster_size=65536,extended_l2=on"})
    void savevmSnapshotsReadLikeTheWalkerAndQemu(String options) throws Exception {
        // the VM state starts at the first L1 entry past the disk, not right after it
        Path img = Qemu.create(dir.resolve("vm.qcow2"), Long.toString(DISK), options);
        TableWalk before = TableWalk.of(img);
        long perL1Entry = 1L << (before.clusterBits + before.clusterBits - (before.extendedL2 ? 4 : 3));
        long l1EntriesBefore = (DISK + perL1Entry - 1) / perL1Entry;
        try (QemuVm vm = QemuVm.start(img)) {
            vm.savevm("one");
            vm.qemuIo("write -P 0x5a 0 64k");
            vm.savevm("two");
        }
        Qemu.snapshot(img, "diskonly");
        // grown to one L1 entry more: the next VM state starts one L1 entry further out
        Qemu.resize(img, Long.toString((l1EntriesBefore + 1) * perL1Entry));
        try (QemuVm vm = QemuVm.start(img)) {
            vm.savevm("grown");
        }
        Oracle.assertClean(img);

        TableWalk walk = TableWalk.of(img);
        Map<String, Long> qemuSizes = Qemu.vmStateSizes(img);
        try (QcowImage qi = QcowImage.open(img)) {
            List<SnapshotEntry> snapshots = qi.snapshots();
            assertEquals(4, snapshots.size());
            assertEquals(l1EntriesBefore * perL1Entry, walk.vmStateOffset(0));
            assertEquals((l1EntriesBefore + 1) * perL1Entry, walk.vmStateOffset(3),
                    "the grown image keeps the last VM state one L1 entry further out");
            for (int i = 0; i < snapshots.size(); i++) {
                SnapshotEntry s = snapshots.get(i);
                String what = img.getFileName() + " (" + options + ") snapshot " + s.idString() + " " + s.nameString();
                BlockSource view = qi.vmStateView(s);
                assertEquals((long) qemuSizes.get(s.idString()), view.size(), what + ": qemu-img's VM state size");
                if (s.nameString().equals("diskonly")) {
                    assertEquals(0, view.size(), what);
                    continue;
                }
                assertTrue(view.size() > 100_000, what + ": a VM's state, " + view.size() + " bytes");
                byte[] walker = walk.vmState(i);
                Oracle.assertReads(walker, Ours.disk(view), what + ": against the walker");
                ByteBuffer magic = ByteBuffer.allocate(4);
                view.read(0, magic);
                assertEquals(QEVM, magic.getInt(0), what + ": starts with QEVM");
                Bytes.assertSameBytes(Qemu.vmStateBytes(img, s.idString(), view.size()), walker,
                        what + ": the walker against QEMU's own read");
            }
        }
    }

    /** A VM whose CPU never ran (-S) saves a smaller state, mostly zero pages; it reads the same way. */
    @Test
    void aPausedVmSavesItsStateToo() throws Exception {
        Path img = Qemu.create(dir.resolve("paused.qcow2"), "4M", "");
        try (QemuVm vm = QemuVm.startPaused(img)) {
            assertTrue(vm.hmp("info status").contains("paused"), "started with -S");
            vm.savevm("paused");
        }
        try (QcowImage qi = QcowImage.open(img)) {
            SnapshotEntry s = qi.findSnapshot("paused");
            byte[] walker = TableWalk.of(img).vmState(0);
            assertEquals((long) Qemu.vmStateSizes(img).get("1"), walker.length);
            Oracle.assertReads(walker, Ours.disk(qi.vmStateView(s)), "paused VM state against the walker");
            assertEquals(QEVM, ByteBuffer.wrap(walker).getInt(0));
        }
    }
}
