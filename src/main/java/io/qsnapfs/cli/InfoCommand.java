package io.qsnapfs.cli;

import io.qsnapfs.engine.read.QcowImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.TimeZone;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs info IMAGE [--output human|json]}: header facts, features, backing chain, data
 * file, header extensions and snapshots of an image. The JSON layout is documented on
 * {@link ImageInfo}; its snapshots carry their exclusive bytes (null for a snapshot whose tables
 * are corrupt: {@code check} says why), which takes a walk of each snapshot's tables.
 */
@Command(name = "info", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Show the format facts and the snapshots of IMAGE.")
final class InfoCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "human",
            description = "human (default) or json.")
    OutputFormat output;

    @Override
    public Integer call() throws IOException {
        try (QcowImage img = QcowImage.open(image)) {
            if (output == OutputFormat.json) {
                // exclusive bytes: info shows damaged images too, so a snapshot whose tables cannot
                // be counted gets null rather than failing the command
                JsonOutput.write(streams().out(), ImageInfo.of(image, img, SnapshotFacts.Exclusive.WHERE_COUNTABLE));
            } else {
                ImageInfo info = ImageInfo.of(image, img, SnapshotFacts.Exclusive.NONE);
                InfoText.write(streams().out(), info, img.snapshots(), TimeZone.getDefault().toZoneId());
            }
        }
        return 0;
    }
}
