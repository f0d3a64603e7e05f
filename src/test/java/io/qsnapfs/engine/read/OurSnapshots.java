package io.qsnapfs.engine.read;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.write.WritableImage;
import io.qsnapfs.testing.RandomHistory;
import java.nio.file.Path;

/**
 * The engine's snapshot create and delete ({@link WritableImage}) as a {@link RandomHistory.SnapshotTool},
 * so random histories take and delete snapshots "by us" as well as with {@code qemu-img}.
 */
final class OurSnapshots implements RandomHistory.SnapshotTool {
    static final OurSnapshots TOOL = new OurSnapshots();

    private OurSnapshots() {
    }

    @Override
    public String command() {
        return "qsnapfs snapshot";
    }

    @Override
    public String createLine(String name) {
        return "qsnapfs snapshot create " + name;
    }

    @Override
    public String deleteLine(String idOrName) {
        return "qsnapfs snapshot delete " + idOrName;
    }

    /** Returns the refusal of refcounts that cannot count one more reference; any other error is thrown. */
    @Override
    public String create(Path image, String name) {
        try (WritableImage w = WritableImage.open(image)) {
            w.create(name);
            return null;
        } catch (ImageException e) {
            if (e.kind() == ImageException.Kind.INVALID_ARGUMENT && e.getMessage().contains("refcount")) {
                return e.getMessage();
            }
            throw e;
        }
    }

    @Override
    public void delete(Path image, String idOrName) {
        try (WritableImage w = WritableImage.open(image)) {
            w.delete(idOrName);
        }
    }
}
