package io.qsnapfs.cli;

import io.qsnapfs.engine.check.CheckResult;
import io.qsnapfs.engine.check.ConsistencyCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs check IMAGE [--output human|json]}: rebuilds the refcounts from every L1 table
 * (active and snapshots) and compares them with the stored ones, read-only. Output and exit status
 * are those of {@code qemu-img check}: 0 clean, 1 the check could not be done, 2 corruptions,
 * 3 leaked clusters only. On a terminal, an image of {@value #PROGRESS_FROM_BYTES} bytes or more
 * gets a progress bar on standard error (the metadata read, in MiB), gone before the report.
 */
@Command(name = "check", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Check the refcounts and metadata of IMAGE like qemu-img check (read-only).",
            "Exit status: 0 clean, 1 check failed, 2 corruptions found, 3 only leaked clusters found."})
final class CheckCommand extends CommandBase implements Callable<Integer> {
    /** Files from this size on (1 GiB) get a progress bar on a terminal; smaller ones are done in a moment. */
    static final long PROGRESS_FROM_BYTES = 1L << 30;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "human",
            description = "human (default) or json (the fields of qemu-img check --output=json).")
    OutputFormat output;

    @Override
    public Integer call() {
        CheckResult result;
        try (TerminalProgress bar = TerminalProgress.start(streams(), "check " + image.getFileName(), 0, !large())) {
            result = ConsistencyCheck.run(image, bar.shown() ? bar : ConsistencyCheck.Progress.NONE);
        }
        streams().err().print(CheckReport.messages(result));
        if (!result.complete()) {
            streams().err().println("qsnapfs: " + image.getFileName() + ": check failed: " + result.failure());
        }
        if (output == OutputFormat.json) {
            streams().out().print(CheckReport.json(result));
            streams().out().print("\n");
        } else {
            streams().out().print(CheckReport.human(result));
        }
        return result.exitStatus();
    }

    /** True for a file large enough for a progress bar; a file that cannot be read is the check's to report. */
    private boolean large() {
        try {
            return Files.size(image) >= PROGRESS_FROM_BYTES;
        } catch (IOException e) {
            return false;
        }
    }
}
