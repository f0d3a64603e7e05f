package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.export.QcowExport;
import io.qsnapfs.engine.read.BackingChain;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.Diff;
import io.qsnapfs.engine.export.Exporter;
import io.qsnapfs.engine.read.QcowImage;
import io.qsnapfs.engine.read.Qcow2View;
import io.qsnapfs.format.SnapshotEntry;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs export IMAGE --snapshot ID_OR_NAME OUT}: writes a snapshot's disk, as raw bytes of
 * the snapshot's own disk size, to OUT, like {@code qemu-img convert -l snapshot.id=N -O raw}; with
 * {@code -O qcow2} as a qcow2 image of its own ({@link QcowExport}).
 *
 * <ul>
 * <li>Without {@code --snapshot} the active layer (the image's current state) is exported; that is
 * only consistent while no VM is writing to the image.</li>
 * <li>A regular OUT is created or truncated and comes out sparse: ranges that read as zeros because
 * they are unallocated or zero clusters are left as holes. A block device is written in full.</li>
 * <li>OUT "-" writes to standard output (zeros included), never to a terminal.</li>
 * <li>OUT must not be the image, its data file or any file of its backing chain.</li>
 * <li>{@code --since FROM --in-place}: OUT, an existing raw copy of FROM, gets only the changed ranges.</li>
 * <li>{@code -O qcow2 --since FROM -B BACKING}: a qcow2 image of only the changed clusters over
 * BACKING, a raw or qcow2 export of FROM (checked: it must exist and have FROM's size).</li>
 * <li>{@code --vm-state}: the snapshot's saved VM state instead of its disk, vm_state_size raw
 * bytes ({@link QcowImage#vmStateView}); refused for a snapshot without one, and with the options
 * that only make sense for a disk.</li>
 * </ul>
 */
@Command(name = "export", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Write the disk of a snapshot of IMAGE to OUT as a raw image, or with -O qcow2 as a qcow2 "
                + "image. Unallocated and zero ranges become holes in OUT (unallocated clusters in qcow2).",
            "With --since, only what changed since an older snapshot: into a raw copy of it (--in-place), or as a "
                + "qcow2 image over an export of it (-O qcow2 -B BACKING).",
            "With --vm-state, the VM state a snapshot saved (savevm in a running QEMU) instead of its disk."})
final class ExportCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Parameters(index = "1", paramLabel = "OUT",
            description = "The file to write, or - for standard output (raw only).")
    String out;

    @Option(names = {"-s", "--snapshot"}, paramLabel = "ID_OR_NAME",
            description = {"The snapshot: an ID, else the first snapshot with this name (as qemu-img does).",
                "Without it, the image's current state (active layer) is exported."})
    String snapshot;

    @Option(names = {"-O", "--out-format"}, paramLabel = "FORMAT", defaultValue = "raw",
            description = "raw (default) or qcow2: a standalone qcow2 image, or with --since a delta over -B.")
    ExportFormat format;

    @Option(names = "--since", paramLabel = "FROM",
            description = "Write only what changed since snapshot FROM (an ID, else a name), found from the image's "
                + "tables as 'qsnapfs diff' finds it. Needs --in-place (raw) or -B (qcow2).")
    String since;

    @Option(names = {"-B", "--backing"}, paramLabel = "BACKING",
            description = "With -O qcow2 --since FROM: the backing file the new image names, a raw or qcow2 export "
                + "of FROM (relative to OUT's directory, as QEMU resolves it). Only the changed clusters are "
                + "written; zero clusters where the snapshot reads zeros.")
    String backing;

    @Option(names = {"-F", "--backing-format"}, paramLabel = "FORMAT",
            description = "The format of BACKING, raw or qcow2 (default: found from its first bytes).")
    ExportFormat backingFormat;

    @Option(names = "--in-place",
            description = "With --since: OUT is an existing raw copy of FROM (its size must be FROM's); only the "
                + "changed ranges are written into it (zeros as holes), and its size becomes the snapshot's.")
    boolean inPlace;

    @Option(names = "--vm-state",
            description = "Write the snapshot's saved VM state instead of its disk: the vm_state_size bytes QEMU "
                + "stored with savevm (its migration stream, starting with QEVM), raw. Needs --snapshot; not with "
                + "-O qcow2, --since, --in-place, -B or -F.")
    boolean vmState;

    @Option(names = {"-q", "--quiet"}, description = "No progress bar, even on a terminal.")
    boolean quiet;

    @Option(names = "--streams", paramLabel = "N", defaultValue = "" + Exporter.DEFAULT_STREAMS,
            description = "Chunks copied at once into a regular OUT (default: ${DEFAULT-VALUE}).")
    int streams;

    @Override
    public Integer call() throws IOException {
        if (vmState) {
            checkVmStateOptions();
        }
        try (QcowImage img = QcowImage.open(image)) {
            if (vmState) {
                BlockSource state = vmState(img, img.findSnapshot(snapshot));
                Exporter exporter = new Exporter(state, Exporter.DEFAULT_CHUNK, streams);
                if (out.equals("-")) {
                    toStandardOutput(exporter, state);
                } else {
                    toFile(img, exporter, state, Path.of(out));
                }
                return 0;
            }
            Qcow2View source;
            if (snapshot != null) {
                SnapshotEntry entry = img.findSnapshot(snapshot);
                source = img.snapshotView(entry);
            } else {
                source = img.activeView();
            }
            if (streams < 1) {
                throw new ParameterException(spec.commandLine(), "--streams must be at least 1");
            }
            Exporter exporter = new Exporter(source, Exporter.DEFAULT_CHUNK, streams);
            if (format == ExportFormat.qcow2) {
                toQcow2(img, source);
            } else if (backing != null || backingFormat != null) {
                throw new ParameterException(spec.commandLine(), "-B and -F are for -O qcow2 --since FROM");
            } else if (since != null || inPlace) {
                update(img, exporter, source);
            } else if (out.equals("-")) {
                toStandardOutput(exporter, source);
            } else {
                toFile(img, exporter, source, Path.of(out));
            }
        }
        return 0;
    }

    /** {@code --vm-state} writes raw bytes of a snapshot, and nothing else goes with it. */
    private void checkVmStateOptions() {
        if (snapshot == null) {
            throw new ParameterException(spec.commandLine(), "--vm-state needs --snapshot ID_OR_NAME: only a snapshot"
                    + " has a saved VM state");
        }
        if (format == ExportFormat.qcow2 || since != null || inPlace || backing != null || backingFormat != null) {
            throw new ParameterException(spec.commandLine(), "--vm-state writes the VM state as raw bytes; it does not"
                    + " go with -O qcow2, --since, --in-place, -B or -F, which are for disks");
        }
        if (streams < 1) {
            throw new ParameterException(spec.commandLine(), "--streams must be at least 1");
        }
    }

    /** The saved VM state of a snapshot; refused for a snapshot without one. */
    private static BlockSource vmState(QcowImage img, SnapshotEntry entry) {
        if (entry.vmStateSize() == 0) {
            throw new CliException(img.name() + ": snapshot '" + entry.nameString() + "' (ID " + entry.idString()
                    + ") has no VM state: it is a disk-only snapshot (only a running QEMU saves VM state, with"
                    + " savevm)");
        }
        return img.vmStateView(entry);
    }

    private void toStandardOutput(Exporter exporter, BlockSource source) throws IOException {
        if (streams().outTerminal()) {
            throw new CliException(source.describe() + ": refusing to write " + (vmState ? "a VM state" : "a raw disk")
                    + " to a terminal; name an output file or redirect standard output");
        }
        try (TerminalProgress progress = TerminalProgress.start(streams(), "export", source.size(), quiet)) {
            exporter.toChannel(Channels.newChannel(streams().out()), progress);
            streams().out().flush();
        } catch (IOException e) {
            throw new CliException("standard output: export of " + source.describe() + " failed: "
                    + ImageException.reason(e), e);
        }
    }

    private void toFile(QcowImage img, Exporter exporter, BlockSource source, Path target) throws IOException {
        refuseImageFiles(img, target);
        writeNew(target, source, progress -> exporter.toFile(target, progress));
    }

    /** Writes OUT with a progress bar; what a failure left of an OUT that did not exist before is removed. */
    @FunctionalInterface
    private interface Writing {
        void run(TerminalProgress progress) throws IOException;
    }

    private void writeNew(Path target, BlockSource source, Writing writing) throws IOException {
        boolean existed = Files.exists(target);
        try (TerminalProgress progress = TerminalProgress.start(streams(), target.getFileName().toString(),
                source.size(), quiet)) {
            writing.run(progress);
        } catch (IOException | RuntimeException e) {
            if (!existed) {
                Files.deleteIfExists(target); // a partial raw disk, or a qcow2 image refused as incomplete: of no use
            }
            if (e instanceof RuntimeException || (e instanceof FileSystemException fse && fse.getFile() != null)) {
                throw e;
            }
            throw new CliException(out + ": export of " + source.describe() + " failed: "
                    + ImageException.reason(e), e);
        }
    }

    /** {@code --since FROM --in-place}: OUT, a raw copy of FROM, made a copy of the snapshot. */
    private void update(QcowImage img, Exporter exporter, Qcow2View to) throws IOException {
        if (since == null || !inPlace) {
            throw new ParameterException(spec.commandLine(), since == null ? "--in-place needs --since FROM"
                    : "--since needs --in-place (OUT is then an existing raw copy of FROM)");
        }
        Qcow2View from = img.snapshotView(img.findSnapshot(since));
        if (out.equals("-")) {
            throw new ParameterException(spec.commandLine(), "--in-place needs OUT to be a file, not standard output");
        }
        Path target = Path.of(out);
        if (!Files.isRegularFile(target)) {
            throw new CliException(out + ": " + (Files.exists(target) ? "is not a regular file"
                    : "does not exist") + "; --in-place updates an existing raw copy of " + from.describe());
        }
        refuseImageFiles(img, target);
        long length = Files.size(target);
        if (length != from.size()) {
            throw new CliException(out + ": is " + length + " bytes, but " + from.describe() + " is " + from.size()
                    + " bytes; it cannot be a raw copy of it (nothing written)");
        }
        try (TerminalProgress progress = TerminalProgress.start(streams(), target.getFileName().toString(), 0, quiet)) {
            exporter.update(target, sink -> Diff.changes(from, to, sink), progress);
        } catch (IOException e) {
            if (e instanceof FileSystemException fse && fse.getFile() != null) {
                throw e;
            }
            throw new CliException(out + ": update to " + to.describe() + " failed: " + ImageException.reason(e), e);
        }
    }

    /** {@code -O qcow2}: a standalone image of the snapshot, or with {@code --since} a delta over BACKING. */
    private void toQcow2(QcowImage img, Qcow2View to) throws IOException {
        if (inPlace) {
            throw new ParameterException(spec.commandLine(), "--in-place updates a raw OUT; it does not go with -O qcow2");
        }
        if (out.equals("-")) {
            throw new ParameterException(spec.commandLine(), "-O qcow2 needs OUT to be a file, not standard output");
        }
        if (since == null && (backing != null || backingFormat != null)) {
            throw new ParameterException(spec.commandLine(), "-B and -F need --since FROM: the backing file is an"
                    + " export of FROM");
        }
        if (since != null && backing == null) {
            throw new ParameterException(spec.commandLine(), "-O qcow2 --since FROM needs -B BACKING, a raw or qcow2"
                    + " export of FROM for the new image to stand on");
        }
        Path target = Path.of(out);
        refuseImageFiles(img, target);
        Qcow2View from = since == null ? null : img.snapshotView(img.findSnapshot(since));
        String backingType = from == null ? null : checkBacking(img, from, target);
        int clusterBits = img.header().clusterBits();
        writeNew(target, to, progress -> {
            if (from == null) {
                QcowExport.standalone(to, clusterBits, target, progress);
            } else {
                QcowExport.delta(to, sink -> Diff.changes(from, to, sink), clusterBits, backing, backingType, target,
                        progress);
            }
        });
    }

    /**
     * Checks that BACKING can be an export of FROM: it exists (a relative name counts from OUT's
     * directory, as QEMU resolves it), is raw or qcow2 and has FROM's size, and is not OUT itself.
     * Returns its format.
     */
    private String checkBacking(QcowImage img, Qcow2View from, Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path file = dir.resolve(backing);
        if (!Files.isRegularFile(file)) {
            throw new CliException(backing + ": " + (Files.exists(file) ? "is not a regular file" : "does not exist")
                    + " (looked at " + file + "); -B names an export of " + from.describe());
        }
        if (Files.exists(target) && Files.isSameFile(file, target)) {
            throw new CliException(out + ": is the backing file named by -B; refusing to overwrite it");
        }
        String role = imageFileRole(img, file);
        if (role != null) {
            // its bytes are the live image's, not an export of FROM: the delta would read wrong
            throw new CliException(backing + ": is " + role + ", not an export of " + from.describe());
        }
        boolean qcow2 = QcowImage.hasMagic(file);
        if (backingFormat != null && backingFormat == ExportFormat.qcow2 != qcow2) {
            throw new CliException(backing + ": is " + (qcow2 ? "a qcow2 image" : "not a qcow2 image") + ", but -F says "
                    + backingFormat);
        }
        long size;
        if (qcow2) {
            try (QcowImage b = QcowImage.open(file)) {
                size = b.header().size();
            }
        } else {
            size = Files.size(file);
        }
        if (size != from.size()) {
            throw new CliException(backing + ": its disk is " + size + " bytes, but " + from.describe() + " is "
                    + from.size() + " bytes; it cannot be an export of it");
        }
        return qcow2 ? "qcow2" : "raw";
    }

    /** Refuses an OUT that is the image, its data file, or a file of its backing chain. */
    private void refuseImageFiles(QcowImage img, Path target) throws IOException {
        String role = imageFileRole(img, target);
        if (role != null) {
            throw new CliException(out + ": is " + role + "; refusing to overwrite it");
        }
    }

    /** What {@code file} is to the image (the image, its data file, a backing file), or null. */
    private static String imageFileRole(QcowImage img, Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        if (same(file, img.path())) {
            return "the image " + img.name();
        }
        for (QcowImage i = img; i != null; ) {
            if (i.dataFilePath() != null && same(file, i.dataFilePath())) {
                return "the external data file of " + i.name();
            }
            BackingChain.Backing b = i.backing();
            if (b == null) {
                break;
            }
            if (same(file, b.path())) {
                return "a backing file of " + img.name();
            }
            i = b.image();
        }
        return null;
    }

    private static boolean same(Path a, Path b) throws IOException {
        return Files.exists(b) && Files.isSameFile(a, b);
    }
}
