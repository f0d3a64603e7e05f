package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.read.BackingChain;
import io.qsnapfs.engine.read.BlockSource;
import io.qsnapfs.engine.read.Diff;
import io.qsnapfs.engine.read.Exporter;
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
 * the snapshot's own disk size, to OUT, like {@code qemu-img convert -l snapshot.id=N -O raw}.
 *
 * <ul>
 * <li>Without {@code --snapshot} the active layer (the image's current state) is exported; that is
 * only consistent while no VM is writing to the image.</li>
 * <li>A regular OUT is created or truncated and comes out sparse: ranges that read as zeros because
 * they are unallocated or zero clusters are left as holes. A block device is written in full.</li>
 * <li>OUT "-" writes to standard output (zeros included), never to a terminal.</li>
 * <li>OUT must not be the image, its data file or any file of its backing chain.</li>
 * </ul>
 */
@Command(name = "export", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Write the disk of a snapshot of IMAGE to OUT as a raw image.",
            "Unallocated and zero ranges become holes in OUT."})
final class ExportCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Parameters(index = "1", paramLabel = "OUT", description = "The raw file to write, or - for standard output.")
    String out;

    @Option(names = {"-s", "--snapshot"}, paramLabel = "ID_OR_NAME",
            description = {"The snapshot: an ID, else the first snapshot with this name (as qemu-img does).",
                "Without it, the image's current state (active layer) is exported."})
    String snapshot;

    @Option(names = "--since", paramLabel = "FROM",
            description = {"Write only what changed since snapshot FROM (an ID, else a name), found from the",
                "image's tables as 'qsnapfs diff' finds it. Needs --in-place."})
    String since;

    @Option(names = "--in-place",
            description = {"With --since: OUT is an existing raw copy of FROM (its size must be FROM's); only the",
                "changed ranges are written into it (zeros as holes), and its size becomes the snapshot's."})
    boolean inPlace;

    @Option(names = {"-q", "--quiet"}, description = "No progress bar, even on a terminal.")
    boolean quiet;

    @Option(names = "--streams", paramLabel = "N", defaultValue = "" + Exporter.DEFAULT_STREAMS,
            description = "Chunks copied at once into a regular OUT (default: ${DEFAULT-VALUE}).")
    int streams;

    @Override
    public Integer call() throws IOException {
        try (QcowImage img = QcowImage.open(image)) {
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
            if (since != null || inPlace) {
                update(img, exporter, (Qcow2View) source);
            } else if (out.equals("-")) {
                toStandardOutput(exporter, source);
            } else {
                toFile(img, exporter, source, Path.of(out));
            }
        }
        return 0;
    }

    private void toStandardOutput(Exporter exporter, BlockSource source) throws IOException {
        if (streams().interactive()) {
            throw new CliException(source.describe() + ": refusing to write a raw disk to a terminal;"
                    + " name an output file or redirect standard output");
        }
        try (ExportProgress progress = ExportProgress.start(streams(), "export", source.size(), quiet)) {
            exporter.toChannel(Channels.newChannel(streams().out()), progress);
            streams().out().flush();
        } catch (IOException e) {
            throw new CliException("standard output: export of " + source.describe() + " failed: "
                    + ImageException.reason(e), e);
        }
    }

    private void toFile(QcowImage img, Exporter exporter, BlockSource source, Path target) throws IOException {
        refuseImageFiles(img, target);
        boolean existed = Files.exists(target);
        try (ExportProgress progress = ExportProgress.start(streams(), target.getFileName().toString(),
                source.size(), quiet)) {
            exporter.toFile(target, progress);
        } catch (IOException | RuntimeException e) {
            if (!existed) {
                Files.deleteIfExists(target);
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
        try (ExportProgress progress = ExportProgress.start(streams(), target.getFileName().toString(), 0, quiet)) {
            exporter.update(target, sink -> Diff.changes(from, to, sink), progress);
        } catch (IOException e) {
            if (e instanceof FileSystemException fse && fse.getFile() != null) {
                throw e;
            }
            throw new CliException(out + ": update to " + to.describe() + " failed: " + ImageException.reason(e), e);
        }
    }

    /** Refuses an OUT that is the image, its data file, or a file of its backing chain. */
    private void refuseImageFiles(QcowImage img, Path target) throws IOException {
        if (!Files.exists(target)) {
            return;
        }
        refuse(target, img.path(), "the image " + img.name());
        for (QcowImage i = img; i != null; ) {
            if (i.dataFilePath() != null) {
                refuse(target, i.dataFilePath(), "the external data file of " + i.name());
            }
            BackingChain.Backing b = i.backing();
            if (b == null) {
                break;
            }
            refuse(target, b.path(), "a backing file of " + img.name());
            i = b.image();
        }
    }

    private void refuse(Path target, Path file, String role) throws IOException {
        if (Files.exists(file) && Files.isSameFile(target, file)) {
            throw new CliException(out + ": is " + role + "; refusing to overwrite it");
        }
    }
}
