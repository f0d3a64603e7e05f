package io.qsnapfs.cli;

import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * How {@code snapshot create} and {@code delete} reach the QEMU of a running VM that holds the
 * image ({@link io.qsnapfs.engine.write.QemuHandoff}): its QMP socket, found from its command line
 * unless {@code --qmp} names it, and the time limit of each exchange with it.
 */
final class QmpOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--qmp", paramLabel = "SOCKET",
            description = "When a running VM holds IMAGE, hand the request to its QEMU over this QMP unix socket"
                + " (default: the QMP sockets on the command line of the process that has IMAGE open).")
    Path socket;

    private Duration timeout = io.qsnapfs.engine.write.QemuHandoff.DEFAULT_TIMEOUT;

    @Option(names = "--qmp-timeout", paramLabel = "SECONDS", defaultValue = "5",
            description = "How long QEMU's monitor may take to answer the connection and each query (default"
                + " ${DEFAULT-VALUE}); a monitor that does not greet in time is busy. The snapshot command itself"
                + " may take up to 10 minutes.")
    void timeout(double seconds) {
        if (!(seconds > 0 && seconds <= 3600)) {
            throw new ParameterException(spec.commandLine(), "--qmp-timeout " + seconds
                    + ": give a number of seconds above 0 and at most 3600");
        }
        timeout = Duration.ofNanos((long) (seconds * 1e9));
    }

    Duration timeout() {
        return timeout;
    }
}
