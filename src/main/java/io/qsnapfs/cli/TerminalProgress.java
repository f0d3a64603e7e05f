package io.qsnapfs.cli;

import io.qsnapfs.engine.check.ConsistencyCheck;
import io.qsnapfs.engine.export.Exporter;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * The progress bar of {@code export} and {@code check}, on standard error, shown only when a person
 * is at a terminal; otherwise it prints nothing at all. It counts bytes, shown in MiB: guest bytes
 * copied, or metadata read.
 */
final class TerminalProgress implements Exporter.Progress, ConsistencyCheck.Progress, AutoCloseable {
    private final ProgressBar bar;

    private TerminalProgress(ProgressBar bar) {
        this.bar = bar;
    }

    /** A progress bar for {@code total} bytes on standard error, or a silent one when that is no terminal or asked to be quiet. */
    static TerminalProgress start(Streams streams, String task, long total, boolean quiet) {
        if (!streams.errTerminal() || quiet) {
            return new TerminalProgress(null);
        }
        ProgressBar bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(total)
                .setUnit(" MiB", 1L << 20)
                .showSpeed()
                .setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(streams.err()))
                .build();
        return new TerminalProgress(bar);
    }

    /** True when the bar is shown: a person is at a terminal, and no one asked for quiet. */
    boolean shown() {
        return bar != null;
    }

    /**
     * Reports from several copy streams may arrive out of order; the bar only moves forward. The
     * total may be learnt only once the work starts (an update counts its changed bytes first).
     */
    @Override
    public synchronized void copied(long done, long total) {
        if (bar != null && total != bar.getMax()) {
            bar.maxHint(total);
        }
        if (bar != null && done > bar.getCurrent()) {
            bar.stepTo(done);
        }
    }

    /** Reports of a check: the same bar. */
    @Override
    public void checked(long done, long total) {
        copied(done, total);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
