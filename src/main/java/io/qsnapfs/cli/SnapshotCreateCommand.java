package io.qsnapfs.cli;

import io.qsnapfs.engine.write.WritableImage;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot create IMAGE NAME}: {@code qemu-img snapshot -c NAME IMAGE}. Silent on
 * success; the engine takes QEMU's locks and refuses an image a running QEMU holds.
 */
@Command(name = "create", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Create a disk-only snapshot NAME of IMAGE, like qemu-img snapshot -c.",
            "Prints nothing on success. Refuses a name that is taken, and an image another process"
                + " (a running VM) has open."})
final class SnapshotCreateCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    @Parameters(index = "1", paramLabel = "NAME", description = "The new snapshot's name.")
    String name;

    @Override
    public Integer call() {
        try (WritableImage img = WritableImage.open(image)) {
            img.create(name);
        }
        return 0;
    }
}
