package io.qsnapfs.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;

/**
 * {@code qsnapfs snapshot ...}: the operations of {@code qemu-img snapshot}, one subcommand each:
 * {@code list} (-l), {@code create} (-c), {@code delete} (-d), {@code apply} (-a).
 */
@Command(name = "snapshot", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Work with the internal snapshots of an image, like qemu-img snapshot.",
        subcommands = {SnapshotListCommand.class, SnapshotCreateCommand.class, SnapshotDeleteCommand.class,
            SnapshotApplyCommand.class})
final class SnapshotCommand extends CommandBase implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing snapshot operation");
    }
}
