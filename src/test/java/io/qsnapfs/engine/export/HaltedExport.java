package io.qsnapfs.engine.export;

import io.qsnapfs.engine.read.QcowImage;
import java.nio.file.Path;

/**
 * Run in a child JVM: starts a standalone export of IMAGE's active layer to OUT with clusters of
 * 1 << BITS bytes and ends the JVM at once when the export reaches guest offset STOP.
 */
final class HaltedExport {
    private HaltedExport() {
    }

    public static void main(String[] args) throws Exception {
        try (QcowImage image = QcowImage.open(Path.of(args[0]))) {
            QcowExport.standalone(new StoppingSource(image.activeView(), Long.parseLong(args[3]), true),
                    Integer.parseInt(args[2]), Path.of(args[1]), (done, total) -> { });
        }
        System.exit(3); // the export was to be stopped before it ended
    }
}
