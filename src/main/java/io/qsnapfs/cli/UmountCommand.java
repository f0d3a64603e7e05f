package io.qsnapfs.cli;

import io.qsnapfs.fuse.FuseMount;
import io.qsnapfs.fuse.MountException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code qsnapfs umount MOUNTPOINT}: unmounts a qsnapfs mount; its server process then exits. */
@Command(name = "umount", mixinStandardHelpOptions = true, description = "Unmount a qsnapfs mount cleanly.")
final class UmountCommand extends CommandBase implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountPoint;

    @Override
    public Integer call() {
        try {
            FuseMount.unmount(mountPoint);
            return 0;
        } catch (MountException e) {
            throw new CliException(e.getMessage(), e);
        }
    }
}
