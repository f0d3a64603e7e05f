package io.qsnapfs.cli;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.qsnapfs.engine.read.Diff;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.engine.read.Qcow2View;
import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs diff IMAGE FROM [TO]}: the guest ranges where snapshot TO (default: the active
 * layer) may differ from snapshot FROM, found from the tables alone ({@link Diff}).
 *
 * <p>Text: a line per changed range (offset, length in bytes, and what TO reads there: {@code
 * data}, {@code zeros}, or {@code -} past TO's end), in the columns of {@code qemu-img map}, then
 * a summary. JSON (fields only ever added):
 * <pre>
 * {
 *   "image": "web01.qcow2",
 *   "from": {"id": "1", "name": "nightly", "disk_size": 1073741824},
 *   "to": {"id": null, "name": null, "disk_size": 1073741824},      the active layer: id and name null
 *   "extents": [
 *     {"start": 0, "length": 65536, "zero": false},                  guest bytes; zero: TO reads zeros
 *     ...
 *   ],
 *   "changed_bytes": 131072,                                          the sum of the lengths
 *   "zero_bytes": 65536,                                              of those, where TO reads zeros
 *   "extent_count": 2
 * }
 * </pre>
 */
@Command(name = "diff", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Show the guest ranges where snapshot TO of IMAGE may differ from snapshot FROM.",
            "Reads only the image's tables, never the disk's data: fast at any size. A change is never left out; "
                + "a range whose bytes were written again unchanged is still shown."})
final class DiffCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Parameters(index = "1", paramLabel = "FROM", description = "The older snapshot: an ID, else a name.")
    String from;

    @Parameters(index = "2", paramLabel = "TO", arity = "0..1",
            description = "The newer snapshot: an ID, else a name. Without it, the image's current state (active "
                + "layer), which is only consistent while no VM writes to the image.")
    String to;

    @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "human",
            description = "human (default) or json.")
    OutputFormat output;

    @Override
    public Integer call() throws IOException {
        try (QcowImage img = QcowImage.open(image)) {
            SnapshotEntry fromEntry = img.findSnapshot(from);
            SnapshotEntry toEntry = to == null ? null : img.findSnapshot(to);
            Qcow2View fromView = img.snapshotView(fromEntry);
            Qcow2View toView = toEntry == null ? img.activeView() : img.snapshotView(toEntry);
            PrintStream out = streams().out();
            if (output == OutputFormat.json) {
                json(img, fromEntry, fromView, toEntry, toView, out);
            } else {
                text(img, fromEntry, toEntry, fromView, toView, out);
            }
            out.flush();
        }
        return 0;
    }

    /** Changed, zero and range counts of a diff; the first of its two passes, so a damaged table is found before anything is printed. */
    private record Totals(long changed, long zero, long count) {
        static Totals of(Qcow2View from, Qcow2View to) throws IOException {
            long[] t = new long[3];
            Diff.changes(from, to, (start, length, zero) -> {
                t[0] += length;
                t[1] += zero ? length : 0;
                t[2]++;
            });
            return new Totals(t[0], t[1], t[2]);
        }
    }

    private static void text(QcowImage img, SnapshotEntry fromEntry, SnapshotEntry toEntry, Qcow2View fromView,
            Qcow2View toView, PrintStream out) throws IOException {
        Totals totals = Totals.of(fromView, toView);
        out.printf("Changes in %s from %s to %s:%n", img.name(), describe(fromEntry), describe(toEntry));
        out.printf("%-16s%-16s%s%n", "Offset", "Length", "TO reads");
        long toSize = toView.size();
        Diff.changes(fromView, toView, (start, length, zero) -> {
            // a range that runs past TO's end is shown as two rows: what TO reads, then "-"
            long inside = Math.max(0, Math.min(length, toSize - start));
            if (inside > 0) {
                out.printf("%-16s%-16s%s%n", hex(start), hex(inside), zero ? "zeros" : "data");
            }
            if (inside < length) {
                out.printf("%-16s%-16s%s%n", hex(start + inside), hex(length - inside), "-");
            }
        });
        long larger = Math.max(fromView.size(), toView.size());
        out.printf("%s changed (%d bytes, %s of %s) in %d %s; %s reads zeros in %s of them.%n",
                QemuSize.of(totals.changed()), totals.changed(), percent(totals.changed(), larger), QemuSize.of(larger),
                totals.count(), totals.count() == 1 ? "range" : "ranges", toEntry == null ? "the active layer" : "TO",
                QemuSize.of(totals.zero()));
        if (fromView.size() != toView.size()) {
            out.printf("The disk size changed from %s to %s.%n", QemuSize.of(fromView.size()),
                    QemuSize.of(toView.size()));
        }
    }

    private static void json(QcowImage img, SnapshotEntry fromEntry, Qcow2View fromView, SnapshotEntry toEntry,
            Qcow2View toView, PrintStream out) throws IOException {
        // Streamed, one range a line: the list is as long as the image is fragmented, so it is never held
        // whole. A first pass counts (and meets any damaged table before a byte is printed).
        Totals totals = Totals.of(fromView, toView);
        out.print("{\n  \"image\": " + quote(img.name()) + ",\n");
        out.print("  \"from\": " + side(fromEntry, fromView) + ",\n");
        out.print("  \"to\": " + side(toEntry, toView) + ",\n");
        out.print("  \"extents\": [");
        boolean[] first = {true};
        Diff.changes(fromView, toView, (start, length, zero) -> {
            out.print(first[0] ? "\n    " : ",\n    ");
            out.print("{\"start\": " + start + ", \"length\": " + length + ", \"zero\": " + zero + "}");
            first[0] = false;
        });
        out.print(totals.count() == 0 ? "],\n" : "\n  ],\n");
        out.print("  \"changed_bytes\": " + totals.changed() + ",\n");
        out.print("  \"zero_bytes\": " + totals.zero() + ",\n");
        out.print("  \"extent_count\": " + totals.count() + "\n}\n");
    }

    /** {@code {"id": ..., "name": ..., "disk_size": ...}} of a snapshot, or of the active layer (null id and name). */
    private static String side(SnapshotEntry entry, Qcow2View view) {
        return "{\"id\": " + (entry == null ? "null" : quote(entry.idString())) + ", \"name\": "
                + (entry == null ? "null" : quote(entry.nameString())) + ", \"disk_size\": " + view.size() + "}";
    }

    /** A JSON string literal (Jackson's escaping). */
    private static String quote(String s) {
        return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(s)) + "\"";
    }

    private static String describe(SnapshotEntry entry) {
        return entry == null ? "the active layer" : "snapshot " + entry.idString() + " '" + entry.nameString() + "'";
    }

    /** Like qemu-img map: 0, else 0x and lower-case hex digits. */
    private static String hex(long v) {
        return v == 0 ? "0" : "0x" + Long.toHexString(v);
    }

    private static String percent(long part, long whole) {
        return whole == 0 ? "0%" : QemuSize.threeSignificant(100.0 * part / whole) + "%";
    }
}
