package io.qsnapfs.cli;

import io.qsnapfs.engine.read.QcowImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.TimeZone;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot list IMAGE [--exclusive] [--output human|json]}: by default prints
 * exactly what {@code qemu-img snapshot -l IMAGE} prints, byte for byte, dates in the local time
 * zone (the {@code TZ} environment variable). {@code --exclusive} adds a column EXCLUSIVE after
 * qemu-img's: the bytes deleting each snapshot alone would free ({@link
 * io.qsnapfs.engine.check.ExclusiveClusters}), which takes a walk of each snapshot's tables.
 *
 * <p>JSON (field names in snake case, fields only ever added), exclusive bytes always counted:
 * <pre>
 * {
 *   "image": "web01.qcow2",          the image's file name
 *   "cluster_size": 65536,
 *   "snapshots": [                   in table order, each as {@link SnapshotFacts} documents:
 *     {"id": "1", "name": "nightly", "vm_state_size": 0, "disk_size": 10737418240,
 *      "disk_size_recorded": true, "date": "2024-05-01T12:00:00Z", "date_sec": 1714564800,
 *      "date_nsec": 0, "vm_clock_nsec": 0, "icount": null, "l1_table_offset": 327680,
 *      "l1_size": 20, "extra_data_size": 24, "exclusive_bytes": 65536}
 *   ]
 * }
 * </pre>
 * That is every column of {@code qemu-img snapshot -l} (ID, TAG as name, VM SIZE in bytes, DATE,
 * VM CLOCK in nanoseconds, ICOUNT) and more. A snapshot whose tables cannot be counted (corrupt)
 * fails the command, with and without {@code --exclusive}, naming the snapshot and what is wrong.
 */
@Command(name = "list", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "List the snapshots of IMAGE, exactly as qemu-img snapshot -l does.")
final class SnapshotListCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Option(names = "--exclusive",
            description = "Add a column EXCLUSIVE after qemu-img's: the bytes deleting each snapshot alone would free "
                + "(the clusters all of whose references come from its tables). Reads every snapshot's tables.")
    boolean exclusive;

    @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "human",
            description = "human (default) or json (every fact of every snapshot, exclusive bytes included).")
    OutputFormat output;

    /** The JSON form. */
    record Listing(String image, long clusterSize, List<SnapshotFacts> snapshots) {
    }

    @Override
    public Integer call() throws IOException {
        try (QcowImage img = QcowImage.open(image)) {
            if (output == OutputFormat.json) {
                JsonOutput.write(streams().out(), new Listing(img.name(), img.header().clusterSize(),
                        SnapshotFacts.of(img, SnapshotFacts.Exclusive.ALL)));
            } else {
                List<Long> bytes = !exclusive ? null : SnapshotFacts.of(img, SnapshotFacts.Exclusive.ALL).stream()
                        .map(SnapshotFacts::exclusiveBytes).toList();
                SnapshotTableFormat.listing(streams().out(), img.snapshots(), TimeZone.getDefault().toZoneId(), bytes);
            }
        }
        return 0;
    }
}
