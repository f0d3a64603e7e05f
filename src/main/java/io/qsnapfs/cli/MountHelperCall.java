package io.qsnapfs.cli;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Set;

/**
 * How mount.fuse calls a file system's helper: {@code mount -t fuse.qsnapfs IMAGE_DIR MOUNTPOINT -o
 * OPTS}, or an fstab line of type {@code fuse.qsnapfs}, makes mount.fuse run {@code qsnapfs
 * IMAGE_DIR MOUNTPOINT -o OPTS} (through {@code /bin/sh}, with mount's PATH). That is {@code qsnapfs
 * mount IMAGE_DIR MOUNTPOINT -o OPTS}, which returns once the file system answers, as mount expects.
 *
 * <p>A helper call is told from a command by its first word: not a subcommand's name, and a path
 * (it contains a slash, or names an existing directory). Any other first word stays a usage error
 * ("Unmatched argument"), so a mistyped command is not taken for an image directory.
 */
final class MountHelperCall {
    private MountHelperCall() {
    }

    /** The command line to run: {@code mount ARGS...} for a helper call, else {@code args} as they are. */
    static String[] asCommand(String[] args, Set<String> subcommands) {
        if (!isHelperCall(args, subcommands)) {
            return args;
        }
        String[] command = new String[args.length + 1];
        command[0] = "mount";
        System.arraycopy(args, 0, command, 1, args.length);
        return command;
    }

    static boolean isHelperCall(String[] args, Set<String> subcommands) {
        if (args.length < 2 || args[0].startsWith("-") || subcommands.contains(args[0])) {
            return false;
        }
        if (args[0].contains("/")) {
            return true;
        }
        try {
            return Files.isDirectory(Path.of(args[0]));
        } catch (InvalidPathException e) {
            return false;
        }
    }
}
