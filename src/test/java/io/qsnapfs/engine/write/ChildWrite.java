package io.qsnapfs.engine.write;

import io.qsnapfs.engine.write.WritableImage;
import io.qsnapfs.testing.ChildJvm;
import java.io.File;
import java.nio.file.Path;

/**
 * Runs one write operation ({@code create}, {@code delete} or {@code apply}) of the engine in a
 * child JVM with a time limit (see {@link ChildJvm}).
 */
final class ChildWrite {
    private ChildWrite() {
    }

    /** Runs {@code op} on {@code image} with {@code arg}; fails the test when it errs or outlasts {@code seconds}. */
    static void run(String op, Path image, String arg, int seconds) {
        ChildJvm.run(ChildWrite.class, seconds, op + " " + arg + " on " + image.getFileName(), op, image.toString(),
                arg);
    }

    /** {@code ChildWrite create|delete|apply IMAGE NAME}. */
    public static void main(String[] args) {
        try (WritableImage w = WritableImage.open(new File(args[1]).toPath())) {
            switch (args[0]) {
                case "create" -> w.create(args[2]);
                case "delete" -> w.delete(args[2]);
                case "apply" -> w.apply(args[2]);
                default -> throw new IllegalArgumentException(args[0]);
            }
        }
    }
}
