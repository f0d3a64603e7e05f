package io.qsnapfs.cli;

import io.qsnapfs.engine.write.WritableImage;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Parameters;

/**
 * What {@code snapshot create}, {@code delete} and {@code apply} share: the image, opened for
 * writing (the engine takes QEMU's locks and refuses an image a running QEMU holds), one operation
 * on it, and silence on success, as {@code qemu-img snapshot} keeps.
 */
abstract class SnapshotWriteCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    /** The command's one operation on the opened image. */
    abstract void operate(WritableImage img);

    @Override
    public final Integer call() {
        try (WritableImage img = WritableImage.open(image)) {
            operate(img);
        }
        return 0;
    }
}
