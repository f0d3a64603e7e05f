package io.qsnapfs.cli;

import io.qsnapfs.engine.export.Exporter;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * The progress bar of {@code export}, on standard error, shown only when a person is at a terminal;
 * otherwise it prints nothing at all.
 */
final class ExportProgress implements Exporter.Progress, AutoCloseable {
    private final ProgressBar bar;

    private ExportProgress(ProgressBar bar) {
        this.bar = bar;
    }

    /** A progress bar for {@code total} bytes, or a silent one when not interactive or asked to be quiet. */
    static ExportProgress start(Streams streams, String task, long total, boolean quiet) {
        if (!streams.interactive() || quiet) {
            return new ExportProgress(null);
        }
        ProgressBar bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(total)
                .setUnit(" MiB", 1L << 20)
                .showSpeed()
                .setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(streams.err()))
                .build();
        return new ExportProgress(bar);
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

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
