package io.qsnapfs.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.qsnapfs.engine.read.QcowImage;
import java.nio.file.AccessDeniedException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageExceptionTest {
    @TempDir
    Path dir;

    @Test
    void missingImageSaysWhyNotJustTheFileName() {
        ImageException e = assertThrows(ImageException.class, () -> QcowImage.open(dir.resolve("gone.qcow2")));
        assertEquals(ImageException.Kind.IO, e.kind());
        assertEquals("gone.qcow2: cannot open: No such file or directory", e.getMessage());
    }

    @Test
    void fileSystemExceptionsGetTheirCLibraryReason() {
        assertEquals("Permission denied", ImageException.reason(new AccessDeniedException("/x")));
        assertEquals("Is a directory",
                ImageException.reason(new java.nio.file.FileSystemException("/x", null, "Is a directory")));
        assertEquals("boom", ImageException.reason(new java.io.IOException("boom")));
    }
}
