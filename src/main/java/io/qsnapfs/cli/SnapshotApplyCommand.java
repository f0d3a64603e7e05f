package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.engine.write.WritableImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot apply IMAGE ID_OR_NAME}: {@code qemu-img snapshot -a}.
 */
@Command(name = "apply", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Revert the active layer of IMAGE to the snapshot with ID ID_OR_NAME, else the one"
            + " named so, like qemu-img snapshot -a. The image's size becomes the snapshot's.",
            "Whatever was written since is lost. Prints nothing on success. Refuses an image another"
                + " process (a running VM) has open: stop the VM first, or use loadvm in its monitor."})
final class SnapshotApplyCommand extends SnapshotWriteCommand {
    @Parameters(index = "1", paramLabel = "ID_OR_NAME", description = "The snapshot's ID or name.")
    String snapshot;

    @Override
    void operate(WritableImage img) {
        img.apply(snapshot);
    }

    @Override
    void handOff(ImageException busy) {
        throw QemuHandoff.applyRefusal(image, busy);
    }
}
