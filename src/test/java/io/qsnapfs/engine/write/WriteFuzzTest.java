package io.qsnapfs.engine.write;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.io.PositionalFile;
import io.qsnapfs.testing.Oracle;
import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.RecordingFileChannel;
import io.qsnapfs.testing.TableWalk;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/**
 * The writer's counterpart of the reader's {@code MetadataPokeFuzzTest}: a few hundred copies of small images
 * with snapshots, data and a compressed cluster, each with one to three random values poked into a
 * metadata field chosen at random (header, active L1, L2 tables, refcount table, refcount blocks,
 * snapshot table entries, snapshot L1 tables), then one of create, delete or apply through
 * {@link WritableImage#open}. Every case must succeed or fail with an ImageException naming the
 * image, within 10 s; anything else (a RuntimeException of another class, an Error, a timeout)
 * is a bug and is reported with the seed, the round and the pokes, which replay it:
 * {@code -Dwfuzz.seed=S -Dwfuzz.only=ROUND}.
 *
 * <p>For refusals of kind CORRUPT or UNSUPPORTED it replays the case under a
 * {@link RecordingFileChannel} to tell those that came before the first write from those that came
 * after (and whether after the commit write to the header). A refusal before the first write must
 * leave the file byte-identical; the others are only counted ({@code -Dwfuzz.verbose=true} lists
 * them with their writes). The summary line is printed on every run.
 */
class WriteFuzzTest {
    private static final long SEED = Long.getLong("wfuzz.seed", 0x3717_e_f022L);
    private static final int ROUNDS = Integer.getInteger("wfuzz.rounds", 600);
    /** -Dwfuzz.verbose=true lists the refusals that came after the engine had written. */
    private static final boolean VERBOSE = Boolean.getBoolean("wfuzz.verbose");
    /** Replays only this round (with its poke printed), or -1 for all. */
    private static final int ONLY = Integer.getInteger("wfuzz.only", -1);
    private static final long OFFSET_MASK = 0x00fffffffffffe00L;
    private static final String IMAGE = "fuzz.qcow2";

    @TempDir
    Path dir;

    /** A field of the metadata: where, how wide, and what it is (for the failure message). */
    private record Field(String area, String what, long offset, int width, boolean offsetLike) {
    }

    /** A base image and the metadata fields it offers to poke. */
    private record Base(String label, Path path, byte[] bytes, Map<String, List<Field>> areas, List<Long> metadata,
            long clusterSize) {
        /** A field: first an area at random (so many L2 entries do not crowd out the header), then one of it. */
        Field pick(Random random) {
            List<List<Field>> all = new ArrayList<>(areas.values());
            List<Field> area = all.get(random.nextInt(all.size()));
            return area.get(random.nextInt(area.size()));
        }
    }

    /** One poke, as the failure message shows it. */
    private record Pk(Field field, long value) {
        @Override
        public String toString() {
            return field.what() + " u" + (field.width() * 8) + " at 0x" + Long.toHexString(field.offset()) + " = 0x"
                    + Long.toHexString(value);
        }
    }

    @Test
    void pokesNeverCrashTheWriter() throws IOException {
        List<Base> bases = List.of(
                base("64K clusters, 16-bit refcounts", "cluster_size=65536,refcount_bits=16", "4M"),
                base("512-byte clusters, 64-bit refcounts", "cluster_size=512,refcount_bits=64", "1M"),
                base("4K clusters, v2", "cluster_size=4096,compat=0.10", "2M"),
                base("16K clusters, 8-bit refcounts, extended L2", "cluster_size=16384,refcount_bits=8,extended_l2=on",
                        "2M"));

        Path img = dir.resolve(IMAGE);
        int cases = 0;
        int succeeded = 0;
        Map<ImageException.Kind, Integer> refused = new EnumMap<>(ImageException.Kind.class);
        int earlyRefusals = 0;
        int earlyUnchanged = 0;
        int lateRefusals = 0;
        int lateUnchanged = 0;
        int committedRefusals = 0;
        List<String> doneYetRefused = new ArrayList<>();
        Map<String, Integer> opCounts = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        List<String> changedEarly = new ArrayList<>();
        long start = System.nanoTime();

        for (int round = 0; round < ROUNDS; round++) {
            if (ONLY >= 0 && round != ONLY) {
                continue;
            }
            Random random = new Random(SEED * 1_000_003L + round);
            Base base = bases.get(random.nextInt(bases.size()));
            Files.write(img, base.bytes());
            List<Pk> pokes = new ArrayList<>();
            int count = random.nextInt(10) < 7 ? 1 : 2 + random.nextInt(2);
            for (int i = 0; i < count; i++) {
                Field f = base.pick(random);
                Pk p = new Pk(f, value(random, base, f));
                pokes.add(p);
                poke(img, p);
            }
            String op = switch (random.nextInt(3)) {
                case 0 -> "create fuzz";
                case 1 -> "delete " + new String[] {"1", "2", "one", "two"}[random.nextInt(4)];
                default -> "apply " + new String[] {"1", "2", "one", "two"}[random.nextInt(4)];
            };
            opCounts.merge(op.substring(0, op.indexOf(' ')), 1, Integer::sum);
            String what = "seed " + SEED + ", round " + round + ", " + base.label() + ": " + op + " after " + pokes;
            if (ONLY >= 0) {
                System.out.println("WriteFuzzTest replay: " + what);
            }
            byte[] poked = Files.readAllBytes(img);
            cases++;

            Throwable t;
            try {
                t = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                    try (WritableImage w = WritableImage.open(img)) {
                        run(w, op);
                        return null;
                    } catch (Throwable e) {
                        return e;
                    }
                }, what);
            } catch (AssertionFailedError timeout) {
                failures.add("TIMEOUT: " + what);
                // The worker thread cannot be stopped and may still hold the image; stop here.
                break;
            }
            if (t == null) {
                succeeded++;
                continue;
            }
            if (!(t instanceof ImageException e)) {
                failures.add(what + ": threw " + t + stackTop(t));
                if (t instanceof OutOfMemoryError) {
                    break;
                }
                continue;
            }
            if (!e.getMessage().startsWith(IMAGE + ": ")) {
                failures.add(what + ": message does not name the image: " + e.getMessage());
                continue;
            }
            refused.merge(e.kind(), 1, Integer::sum);
            if (e.kind() == ImageException.Kind.CORRUPT || e.kind() == ImageException.Kind.UNSUPPORTED) {
                boolean unchanged = Arrays.equals(poked, Files.readAllBytes(img));
                Written written = writesBeforeFailure(poked, op, what);
                if (written.changes() == 0) {
                    earlyRefusals++;
                    if (unchanged) {
                        earlyUnchanged++;
                    } else {
                        changedEarly.add(what + ": " + e.getMessage());
                    }
                } else {
                    lateRefusals++;
                    if (written.committed()) {
                        committedRefusals++;
                        doneYetRefused.add(what + " => " + written.log() + ": " + e.getMessage());
                    }
                    if (VERBOSE) {
                        System.out.println("WriteFuzzTest: refused after " + written.changes() + " writes"
                                + (written.committed() ? " (committed)" : "") + ": " + what
                                + " => " + written.log() + ": " + e.getMessage());
                    }
                    if (unchanged) {
                        lateUnchanged++;
                    }
                }
            }
        }
        long ms = (System.nanoTime() - start) / 1_000_000;
        System.out.println("WriteFuzzTest: " + cases + " cases " + opCounts + " in " + ms + " ms: " + succeeded
                + " succeeded, refused " + refused + "; CORRUPT/UNSUPPORTED before the first write: " + earlyRefusals
                + " (" + earlyUnchanged + " byte-identical), after a write: " + lateRefusals + " (" + lateUnchanged
                + " byte-identical, " + committedRefusals + " of them after the commit write); " + failures.size()
                + " failures");
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + cases + " cases broke the rules:\n" + String.join("\n", failures));
        }
        assertTrue(changedEarly.isEmpty(), "refused before any write, yet the file changed:\n"
                + String.join("\n", changedEarly));
        // A refusal after the header switch would report failed a request that was done.
        assertTrue(doneYetRefused.isEmpty(), "refused after the switch:\n" + String.join("\n", doneYetRefused));
        if (ONLY < 0) {
            // The pokes must find errors, and leave room for success, or this test tests little.
            int rejected = refused.values().stream().mapToInt(Integer::intValue).sum();
            assertTrue(rejected > cases / 5, "only " + rejected + " of " + cases + " cases were refused");
            assertTrue(succeeded > cases / 10, "only " + succeeded + " of " + cases + " cases succeeded");
        }
    }

    private static void run(WritableImage w, String op) {
        String arg = op.substring(op.indexOf(' ') + 1);
        switch (op.substring(0, op.indexOf(' '))) {
            case "create" -> w.create(arg);
            case "delete" -> w.delete(arg);
            default -> w.apply(arg);
        }
    }

    /** What the engine wrote before it threw: how many changes, and whether one was a commit. */
    private record Written(int changes, boolean committed, String log) {
    }

    /**
     * Replays the case on a copy of {@code poked} under a recording channel and tells what the
     * engine wrote before it threw (the engine is deterministic up to create's clock). A commit is
     * a write to the header's snapshot table fields (create, delete) or size and L1 fields (apply).
     */
    private Written writesBeforeFailure(byte[] poked, String op, String what) throws IOException {
        Path copy = dir.resolve("replay.qcow2");
        Files.write(copy, poked);
        RecordingFileChannel channel = RecordingFileChannel.open(copy);
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                try (WritableImage w = WritableImage.over(PositionalFile.wrap(copy, channel))) {
                    run(w, op);
                } catch (ImageException expected) {
                    // the same refusal, we expect
                }
            }, "replay of " + what);
            List<RecordingFileChannel.Event> log = channel.log();
            boolean committed = log.stream().anyMatch(e -> e instanceof RecordingFileChannel.Write w
                    && (overlaps(w, 24, 48) || overlaps(w, 60, 72)));
            return new Written(RecordingFileChannel.changes(log), committed, log.toString());
        } finally {
            channel.close();
        }
    }

    private static boolean overlaps(RecordingFileChannel.Write w, long from, long to) {
        return w.position() < to && w.position() + w.data().length > from;
    }

    private static String stackTop(Throwable t) {
        StringBuilder b = new StringBuilder();
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < Math.min(6, st.length); i++) {
            b.append("\n        at ").append(st[i]);
        }
        return b.toString();
    }

    private static void poke(Path img, Pk p) {
        Poke.field(img, p.field().offset(), p.field().width(), p.value());
    }

    /**
     * Interesting values: zero, all ones, random bits, small numbers, a flipped bit, and for fields
     * holding offsets the offset of other metadata, a misaligned one, one past the end of the file
     * and huge ones (with the field's flag bits kept, so an L1/L2 entry stays "allocated").
     */
    private static long value(Random random, Base base, Field f) {
        int width = f.width();
        long mask = width == 8 ? -1L : (1L << (width * 8)) - 1;
        long current = Poke.readField(base.path(), f.offset(), width);
        long fileSize = base.bytes().length;
        long cs = base.clusterSize();
        int choices = f.offsetLike() ? 14 : 9;
        long v = switch (random.nextInt(choices)) {
            case 0 -> 0;
            case 1 -> mask;
            case 2 -> random.nextLong();
            case 3 -> random.nextInt(64);
            case 4 -> current ^ (1L << random.nextInt(width * 8));
            case 5 -> current + 1 + random.nextInt(8);
            case 6 -> current - 1 - random.nextInt(8);
            case 7 -> 1L << (width * 8 - 1);
            case 8 -> current + ((long) (1 + random.nextInt(64)) << 9);
            // offsets: keep flags (bits outside the offset mask) of the current value
            case 9 -> (current & ~OFFSET_MASK) | base.metadata().get(random.nextInt(base.metadata().size()));
            case 10 -> (current & ~OFFSET_MASK) | ((fileSize + cs - 1) / cs + random.nextInt(4)) * cs;
            case 11 -> (current & ~OFFSET_MASK) | ((1L << (40 + random.nextInt(16))) & OFFSET_MASK);
            case 12 -> (current & ~OFFSET_MASK) | ((current & OFFSET_MASK) + (random.nextBoolean() ? 512 : 8));
            default -> (current & ~OFFSET_MASK) | cs * random.nextInt(4);
        };
        return v & mask;
    }

    // ---- the base images and their fields ---------------------------------------------------

    private Base base(String label, String options, String size) throws IOException {
        Path p = dir.resolve("base-" + Math.abs(label.hashCode()) + ".qcow2");
        Qemu.create(p, size, options);
        Qemu.io(p, "write -P 0x11 0 192k", "write -c -P 0x22 512k 64k", "write -z 768k 64k");
        Qemu.snapshot(p, "one");
        Qemu.io(p, "write -P 0x33 64k 128k", "write -P 0x44 900k 8k");
        Qemu.snapshot(p, "two");
        Qemu.io(p, "write -P 0x55 4k 4k");
        Oracle.assertClean(p);
        // The writer must accept the unpoked image: each operation once on a copy.
        for (String op : List.of("create fuzz", "delete 1", "apply two")) {
            Path copy = dir.resolve("check.qcow2");
            Files.copy(p, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (WritableImage w = WritableImage.open(copy)) {
                run(w, op);
            }
            Oracle.assertClean(copy);
        }

        List<Field> fields = new ArrayList<>();
        List<Long> metadata = new ArrayList<>();
        TableWalk walk = TableWalk.of(p);
        int clusterBits = walk.clusterBits;
        long cs = 1L << clusterBits;
        boolean v3 = Poke.readU32(p, 4) >= 3;
        long fileSize = Files.size(p);

        // Header fields (v3 adds the feature bits, refcount order, header length, compression).
        header(fields, "magic", 0, 4, false);
        header(fields, "version", 4, 4, false);
        header(fields, "backing_file_offset", 8, 8, true);
        header(fields, "backing_file_size", 16, 4, false);
        header(fields, "cluster_bits", 20, 4, false);
        header(fields, "size", 24, 8, false);
        header(fields, "crypt_method", 32, 4, false);
        header(fields, "l1_size", 36, 4, false);
        header(fields, "l1_table_offset", 40, 8, true);
        header(fields, "refcount_table_offset", 48, 8, true);
        header(fields, "refcount_table_clusters", 56, 4, false);
        header(fields, "nb_snapshots", 60, 4, false);
        header(fields, "snapshots_offset", 64, 8, true);
        if (v3) {
            header(fields, "incompatible_features", 72, 8, false);
            header(fields, "compatible_features", 80, 8, false);
            header(fields, "autoclear_features", 88, 8, false);
            header(fields, "refcount_order", 96, 4, false);
            header(fields, "header_length", 100, 4, false);
        }
        metadata.add(0L);

        // L1 tables (active and each snapshot's) and the L2 tables they reach.
        List<long[]> l1s = walk.l1Tables();
        long guestEntries = Poke.readU64(p, 24) >>> clusterBits;
        int entryBytes = walk.extendedL2 ? 16 : 8;
        long l2Entries = cs / entryBytes;
        for (int t = 0; t < l1s.size(); t++) {
            String owner = t == 0 ? "active" : "snapshot " + t;
            long l1 = l1s.get(t)[0];
            long l1Size = l1s.get(t)[1];
            metadata.add(l1);
            for (int i = 0; i < l1Size; i++) {
                String area = t == 0 ? "active L1" : "snapshot L1";
                fields.add(new Field(area, owner + " L1[" + i + "]", l1 + 8L * i, 8, true));
                long l2 = Poke.readU64(p, l1 + 8L * i) & OFFSET_MASK;
                if (l2 == 0) {
                    continue;
                }
                metadata.add(l2);
                long used = Math.min(l2Entries, guestEntries - (long) i * l2Entries);
                for (int e = 0; e < used; e++) {
                    long pos = l2 + (long) entryBytes * e;
                    if (Poke.readU64(p, pos) != 0 || e % 8 == 0) {
                        fields.add(new Field("L2", owner + " L2 at 0x" + Long.toHexString(l2) + " [" + e + "]", pos, 8,
                                true));
                    }
                }
            }
        }

        // The refcount table: its used entries and the first unused one; the blocks' used entries.
        long rt = Poke.readU64(p, 48);
        long rtClusters = Poke.readU32(p, 56);
        int refcountOrder = v3 ? (int) Poke.readU32(p, 96) : 4;
        metadata.add(rt);
        for (long i = 0; i < rtClusters * cs / 8; i++) {
            long block = Poke.readU64(p, rt + 8 * i) & OFFSET_MASK;
            fields.add(new Field("refcount table", "refcount table[" + i + "]", rt + 8 * i, 8, true));
            if (block == 0) {
                break;
            }
            metadata.add(block);
            int bits = 1 << refcountOrder;
            long perBlock = cs * 8 / bits;
            long clustersInFile = (fileSize + cs - 1) / cs;
            for (long c = 0; c < perBlock && i * perBlock + c < clustersInFile + 2; c++) {
                long bitPos = c * bits;
                int width = Math.max(1, bits / 8);
                fields.add(new Field("refcount block", "refcount block " + i + " [cluster " + (i * perBlock + c) + "]",
                        block + bitPos / 8, width, false));
            }
        }

        // The snapshot table: each entry's fields.
        long nb = Poke.readU32(p, 60);
        for (int i = 0; i < nb; i++) {
            long e = walk.snapshotEntryOffset(i);
            metadata.add(e);
            String s = "snapshot entry " + i + " ";
            fields.add(new Field("snapshot table", s + "l1_table_offset", e, 8, true));
            fields.add(new Field("snapshot table", s + "l1_size", e + 8, 4, false));
            fields.add(new Field("snapshot table", s + "id_str_size", e + 12, 2, false));
            fields.add(new Field("snapshot table", s + "name_size", e + 14, 2, false));
            fields.add(new Field("snapshot table", s + "vm_state_size", e + 32, 4, false));
            fields.add(new Field("snapshot table", s + "extra_data_size", e + 36, 4, false));
            long extra = Poke.readU32(p, e + 36);
            if (extra >= 16) {
                fields.add(new Field("snapshot table", s + "disk_size", e + 48, 8, false));
            }
        }
        Files.deleteIfExists(dir.resolve("check.qcow2"));
        Map<String, List<Field>> areas = new TreeMap<>();
        for (Field f : fields) {
            areas.computeIfAbsent(f.area(), k -> new ArrayList<>()).add(f);
        }
        return new Base(label, p, Files.readAllBytes(p), areas, List.copyOf(metadata), cs);
    }

    private static void header(List<Field> fields, String what, long offset, int width, boolean offsetLike) {
        fields.add(new Field("header", "header " + what, offset, width, offsetLike));
    }

}
