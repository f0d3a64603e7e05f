package io.qsnapfs.cli;

import io.qsnapfs.engine.read.QcowImage;
import java.nio.file.Path;
import java.util.TimeZone;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot list IMAGE}: prints exactly what {@code qemu-img snapshot -l IMAGE} prints,
 * byte for byte, dates in the local time zone (the {@code TZ} environment variable).
 */
@Command(name = "list", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "List the snapshots of IMAGE, exactly as qemu-img snapshot -l does.")
final class SnapshotListCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Override
    public Integer call() {
        try (QcowImage img = QcowImage.open(image)) {
            SnapshotTableFormat.listing(streams().out(), img.snapshots(), TimeZone.getDefault().toZoneId());
        }
        return 0;
    }
}
