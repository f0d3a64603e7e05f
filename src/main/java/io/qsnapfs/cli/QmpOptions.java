package io.qsnapfs.cli;

import io.qsnapfs.engine.write.QemuHandoff;
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

    private Duration timeout = QemuHandoff.DEFAULT_TIMEOUT;

    @Option(names = "--qmp-timeout", paramLabel = "SECONDS", defaultValue = "" + QemuHandoff.DEFAULT_TIMEOUT_SECONDS,
            description = "How long QEMU's monitor may take to answer the connection and each query (default"
                + " ${DEFAULT-VALUE}); a monitor that does not greet in time is busy. The snapshot command itself"
                + " may take up to " + QemuHandoff.COMMAND_LIMIT_MINUTES + " minutes.")
    void timeout(String seconds) {
        try {
            timeout = parseTimeout(seconds);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--qmp-timeout " + e.getMessage());
        }
    }

    /**
     * A time limit of QMP exchanges given in seconds ({@code --qmp-timeout}, {@code -o
     * qmp_timeout=}): a decimal number from 0.001 to 3600.
     *
     * @throws IllegalArgumentException naming the value and what it must be
     */
    static Duration parseTimeout(String seconds) {
        if (seconds.matches("[0-9]{1,4}(\\.[0-9]{1,9})?")) {
            Duration d = Duration.ofNanos(new java.math.BigDecimal(seconds).movePointRight(9).longValueExact());
            if (d.toMillis() >= 1 && d.compareTo(Duration.ofHours(1)) <= 0) {
                return d;
            }
        }
        throw new IllegalArgumentException(seconds + ": give a number of seconds from 0.001 to 3600");
    }

    Duration timeout() {
        return timeout;
    }
}
