package io.qsnapfs.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every qsnapfs command shares: access to the {@link Streams} of the run, which live in the
 * root {@link Main} object, so subcommands at any depth write to the same place.
 */
abstract class CommandBase {
    @Spec
    CommandSpec spec;

    Streams streams() {
        return ((Main) spec.root().userObject()).streams();
    }
}
