package io.qsnapfs.cli;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.QemuHandoff;
import io.qsnapfs.engine.write.WritableImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code qsnapfs snapshot create IMAGE NAME}: {@code qemu-img snapshot -c NAME IMAGE}.
 */
@Command(name = "create", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"Create a disk-only snapshot NAME of IMAGE, like qemu-img snapshot -c.",
            "Prints nothing on success. Refuses a name that is taken. When a running VM has IMAGE open, its"
                + " QEMU makes the snapshot, asked over its QMP monitor; an image another program holds is refused."})
final class SnapshotCreateCommand extends SnapshotWriteCommand {
    @Parameters(index = "1", paramLabel = "NAME", description = "The new snapshot's name.")
    String name;

    @Mixin
    QmpOptions qmp;

    @Override
    void operate(WritableImage img) {
        img.create(name);
    }

    @Override
    void handOff(ImageException busy) {
        try (QemuHandoff qemu = QemuHandoff.reach(image, qmp.socket, qmp.timeout(), busy)) {
            qemu.create(name);
        }
    }
}
