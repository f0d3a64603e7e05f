package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.engine.write.WritableImage;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Parameters;

/**
 * What {@code snapshot create}, {@code delete} and {@code apply} share: the image, opened for
 * writing (the engine takes QEMU's locks and refuses an image another process holds), one
 * operation on it, and silence on success, as {@code qemu-img snapshot} keeps. When a running VM
 * holds the image, the operation goes to its QEMU instead ({@link #handOff}).
 */
abstract class SnapshotWriteCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The qcow2 image.")
    Path image;

    /** The command's one operation on the opened image. */
    abstract void operate(WritableImage img);

    /**
     * The operation when another process holds the image's locks ({@code busy}): create and delete
     * hand it to the running VM's QEMU; apply cannot run beside a VM and refuses.
     */
    abstract void handOff(ImageException busy);

    @Override
    public final Integer call() {
        WritableImage img;
        try {
            img = WritableImage.open(image);
        } catch (ImageException e) {
            if (!QemuHandoff.heldByAnother(e)) {
                throw e;
            }
            handOff(e);
            return 0;
        }
        try (img) {
            operate(img);
        }
        return 0;
    }
}
