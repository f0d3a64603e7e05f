package io.qsnapfs.cli;

import io.qsnapfs.engine.write.WritableImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot delete IMAGE ID_OR_NAME}: {@code qemu-img snapshot -d}.
 */
@Command(name = "delete", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Delete the snapshot with ID ID_OR_NAME from IMAGE, else the one named so,"
            + " like qemu-img snapshot -d.",
            "Prints nothing on success. Refuses an image another process (a running VM) has open."})
final class SnapshotDeleteCommand extends SnapshotWriteCommand {
    @Parameters(index = "1", paramLabel = "ID_OR_NAME", description = "The snapshot's ID or name.")
    String snapshot;

    @Override
    void operate(WritableImage img) {
        img.delete(snapshot);
    }
}
