package io.qsnapfs.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
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
 * {@link ImageInfo}.
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
            ImageInfo info = ImageInfo.of(image, img);
            if (output == OutputFormat.json) {
                // Made here, not in a static field: picocli instantiates every command on every run,
                // and Jackson's setup would slow down the commands that do not print JSON.
                ObjectMapper json = new ObjectMapper()
                        .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                        .enable(SerializationFeature.INDENT_OUTPUT);
                streams().out().write(json.writeValueAsBytes(info));
                streams().out().print("\n");
            } else {
                InfoText.write(streams().out(), info, img.snapshots(), TimeZone.getDefault().toZoneId());
            }
        }
        return 0;
    }
}
