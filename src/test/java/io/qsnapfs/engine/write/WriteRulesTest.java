package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.format.SnapshotEntry;
import io.qsnapfs.testing.Bytes;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu.Listed;
import io.qsnapfs.testing.Qemu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rules of the write operations, each against QEMU doing the same on a copy where QEMU can:
 * apply across grow and shrink (size, bytes, cleanliness as {@code qemu-img snapshot -a} leaves
 * them), ID before name, shared names, new IDs, refusals that must leave the file untouched
 * byte for byte, and everything the operations must keep (other entries, header extensions,
 * persistent bitmaps).
 */
class WriteRulesTest {
    @TempDir
    Path dir;

    // ---- apply against qemu-img snapshot -a ----------------------------------------------------

    @Test
    void applyAcrossGrowAndShrinkMatchesQemu() {
        Path img = Qemu.create(dir.resolve("resized.qcow2"), "4M", "cluster_size=4096");
        Qemu.io(img, "write -P 1 0 1M", "write -c -P 2 3M 8k", "write -P 3 4190000 4304");
        ourCreate(img, "at4m");
        Qemu.resize(img, "8M");
        Qemu.io(img, "write -P 4 6M 1M", "write -P 5 512k 4k");
        ourCreate(img, "at8m");
        Qemu.resize(img, "3M");
        Qemu.io(img, "write -P 6 1M 100k");
        ourCreate(img, "at3m");
        Qemu.io(img, "write -P 7 0 8k");
        Oracle.assertClean(img);

        // From 3 MiB to each snapshot, then chains through all of them.
        for (String target : List.of("at4m", "at8m", "at3m")) {
            assertApplyLikeQemu(img, List.of(target));
        }
        assertApplyLikeQemu(img, List.of("at8m", "at4m", "at3m", "at8m"));
        assertApplyLikeQemu(img, List.of("at3m", "at4m"));
    }

    @Test
    void applyOfALongerL1TableMatchesQemu() {
        Path img = dir.resolve("longer.qcow2");
        CrashReplayTest.longerSnapshotL1(img);
        assertApplyLikeQemu(img, List.of("big"));
    }

    /** Applies {@code targets} in turn, ours on one copy and QEMU's on another, and compares. */
    private void assertApplyLikeQemu(Path img, List<String> targets) {
        Path ours = copy(img, "ours.qcow2");
        Path theirs = copy(img, "theirs.qcow2");
        for (String t : targets) {
            try (WritableImage w = WritableImage.open(ours)) {
                assertEquals(t, w.apply(t).nameString());
            }
            Qemu.applySnapshot(theirs, t);
            String what = "after applying " + targets.subList(0, targets.indexOf(t) + 1);
            Oracle.assertClean(ours, what);
            assertEquals(Qemu.virtualSize(theirs), Qemu.virtualSize(ours), "virtual size " + what);
            Bytes.assertSameBytes(Qemu.activeBytes(theirs, dir), Qemu.activeBytes(ours, dir), "active layer " + what);
            assertEquals(Qemu.snapshots(theirs), Qemu.snapshots(ours), what);
            long size = Qemu.virtualSize(ours);
            try (QcowImage qi = QcowImage.open(ours)) {
                for (SnapshotEntry e : qi.snapshots()) {
                    Bytes.assertSameBytes(
                            Qemu.snapshotBytesAtOwnSize(theirs, e.idString(), qi.snapshotDiskSize(e), size, dir),
                            Qemu.snapshotBytesAtOwnSize(ours, e.idString(), qi.snapshotDiskSize(e), size, dir),
                            "snapshot " + e.nameString() + " " + what);
                }
            }
        }
    }

    // ---- IDs and names ----------------------------------------------------------------------

    @Test
    void anIdComesBeforeAName() {
        Path img = small("ids.qcow2");
        Qemu.snapshot(img, "2"); // ID 1, named "2"
        Qemu.snapshot(img, "x"); // ID 2
        try (WritableImage w = WritableImage.open(img)) {
            assertEquals("x", w.delete("2").nameString());
        }
        assertEquals(List.of(new Listed("1", "2")), Qemu.snapshots(img));
        try (WritableImage w = WritableImage.open(img)) {
            assertEquals("1", w.delete("2").idString()); // no ID 2 any more: the name
        }
        assertEquals(List.of(), Qemu.snapshots(img));
        Oracle.assertClean(img);
    }

    @Test
    void newIdsAreTheLargestNumericIdPlusOne() {
        Path img = small("newids.qcow2");
        for (String n : List.of("a", "b", "c")) {
            ourCreate(img, n);
        }
        assertEquals("3", Qemu.snapshots(img).get(2).id());
        ourDelete(img, "c");
        assertEquals("3", ourCreate(img, "d").idString()); // 3 is free again
        ourDelete(img, "a");
        assertEquals("4", ourCreate(img, "e").idString()); // not the lowest free one
        Qemu.snapshot(img, "q");
        assertEquals(new Listed("5", "q"), last(img));
        ourDelete(img, "b");
        ourDelete(img, "d");
        ourDelete(img, "e");
        ourDelete(img, "q");
        assertEquals("1", ourCreate(img, "f").idString());
        Oracle.assertClean(img);
    }

    // ---- refusals leave the file as it was ---------------------------------------------------

    @Test
    void aSharedNameIsRefusedAndTheIdStillWorks() {
        Path img = small("shared.qcow2");
        Qemu.snapshot(img, "dup");
        Qemu.io(img, "write -P 9 0 4k");
        Qemu.snapshot(img, "dup");
        assertRefusedUntouched(img, ImageException.Kind.INVALID_ARGUMENT, w -> w.delete("dup"));
        try (WritableImage w = WritableImage.open(img)) {
            assertEquals("dup", w.delete("2").nameString());
        }
        assertEquals(List.of(new Listed("1", "dup")), Qemu.snapshots(img));
        Oracle.assertClean(img);
    }

    @Test
    void aTakenNameOrAMissingSnapshotChangesNothing() {
        Path img = small("taken.qcow2");
        ourCreate(img, "s");
        assertRefusedUntouched(img, ImageException.Kind.EXISTS, w -> w.create("s"));
        assertRefusedUntouched(img, ImageException.Kind.NOT_FOUND, w -> w.delete("nope"));
        assertRefusedUntouched(img, ImageException.Kind.NOT_FOUND, w -> w.apply("2"));
    }

    @Test
    void twoBitRefcountsOverflowBeforeAnythingIsWritten() {
        Path img = Qemu.create(dir.resolve("two.qcow2"), "4M", "cluster_size=4096,refcount_bits=2");
        Qemu.io(img, "write -P 1 0 1M");
        ourCreate(img, "one");
        ourCreate(img, "two"); // shared clusters now count 3, the most 2 bits hold
        Oracle.assertClean(img);
        assertRefusedUntouched(img, ImageException.Kind.INVALID_ARGUMENT, w -> w.create("three"));
        // apply adds the snapshot's references before it drops the active layer's: 4 for a moment
        assertRefusedUntouched(img, ImageException.Kind.INVALID_ARGUMENT, w -> w.apply("one"));
        Processes.Output qemu = Qemu.run(List.of("qemu-img", "snapshot", "-a", "one", copy(img, "q.qcow2").toString()));
        assertTrue(qemu.exitCode() != 0, "QEMU refuses this apply too: " + qemu.stdout() + qemu.stderr());
    }

    private void assertRefusedUntouched(Path img, ImageException.Kind kind, Consumer<WritableImage> op) {
        byte[] before = Bytes.readFile(img);
        try (WritableImage w = WritableImage.open(img)) {
            ImageException e = assertThrows(ImageException.class, () -> op.accept(w));
            assertEquals(kind, e.kind(), e.getMessage());
        }
        assertArrayEquals(before, Bytes.readFile(img), "a refused operation changed the file");
    }

    // ---- what must be kept -------------------------------------------------------------------

    @Test
    void otherEntriesHeaderExtensionsAndBitmapsAreKept() {
        Path base = Qemu.create(dir.resolve("base.qcow2"), "8M", "");
        Qemu.io(base, "write -P 0x42 0 8M");
        Path img = dir.resolve("top.qcow2");
        Qemu.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "-o", "cluster_size=65536",
                img.toString(), "8M");
        Qemu.img("bitmap", "--add", img.toString(), "dirty0");
        Qemu.io(img, "write -P 1 1M 1M");
        Qemu.snapshot(img, "q1");
        Qemu.io(img, "write -P 2 3M 64k");
        Qemu.snapshot(img, "q2");
        byte[] header = headerCluster(img);
        List<SnapshotEntry> before = entries(img);

        ourCreate(img, "ours");
        ourDelete(img, "q1");
        try (WritableImage w = WritableImage.open(img)) {
            w.apply("q2"); // same size: allowed with bitmaps
        }
        Oracle.assertClean(img);
        List<SnapshotEntry> after = entries(img);
        assertEquals(before.get(1), after.get(0), "q2's entry, byte for byte");
        byte[] now = headerCluster(img);
        // Everything but the fields the operations change: the active L1 table (apply writes a
        // fresh one), the snapshot count and offset.
        for (int i = 0; i < header.length; i++) {
            if ((i < 36 || i >= 48) && (i < 60 || i >= 72)) {
                assertEquals(header[i], now[i], "header byte " + i + " changed");
            }
        }
        String info = Qemu.img("info", img.toString());
        assertTrue(info.contains("dirty0") && info.contains("backing file: base.qcow2"), info);
        Oracle.assertClean(img);
    }

    // ---- helpers ----------------------------------------------------------------------------

    private Path small(String name) {
        Path img = Qemu.create(dir.resolve(name), "2M", "cluster_size=4096");
        Qemu.io(img, "write -P 1 0 512k", "write -c -P 2 1M 8k");
        return img;
    }

    private static SnapshotEntry ourCreate(Path img, String name) {
        try (WritableImage w = WritableImage.open(img)) {
            return w.create(name);
        }
    }

    private static void ourDelete(Path img, String idOrName) {
        try (WritableImage w = WritableImage.open(img)) {
            w.delete(idOrName);
        }
    }

    private static Listed last(Path img) {
        List<Listed> l = Qemu.snapshots(img);
        return l.get(l.size() - 1);
    }

    private static List<SnapshotEntry> entries(Path img) {
        try (QcowImage qi = QcowImage.open(img)) {
            return qi.snapshots();
        }
    }

    private Path copy(Path img, String name) {
        Path to = dir.resolve(name);
        try {
            Files.copy(img, to, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return to;
    }

    /** The header's first cluster. */
    private static byte[] headerCluster(Path img) {
        return Poke.readBytes(img, 0, 1 << (int) Poke.readU32(img, 20));
    }
}
