package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.engine.write.WritableImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot delete IMAGE ID_OR_NAME}: {@code qemu-img snapshot -d}.
 */
@Command(name = "delete", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Delete the snapshot with ID ID_OR_NAME from IMAGE, else the one named so,"
            + " like qemu-img snapshot -d.",
            "Prints nothing on success. When a running VM has IMAGE open, its QEMU deletes the snapshot, asked"
                + " over its QMP monitor; an image another program holds is refused."})
final class SnapshotDeleteCommand extends SnapshotWriteCommand {
    @Parameters(index = "1", paramLabel = "ID_OR_NAME", description = "The snapshot's ID or name.")
    String snapshot;

    @Mixin
    QmpOptions qmp;

    @Override
    void operate(WritableImage img) {
        img.delete(snapshot);
    }

    @Override
    void handOff(ImageException busy) {
        try (QemuHandoff qemu = QemuHandoff.reach(image, qmp.socket, qmp.timeout(), busy)) {
            qemu.delete(snapshot);
        }
    }
}
