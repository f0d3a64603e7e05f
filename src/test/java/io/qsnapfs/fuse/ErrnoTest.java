package io.qsnapfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageException.Kind;
import java.util.Map;
import org.junit.jupiter.api.Test;
import ru.serce.jnrfuse.ErrorCodes;

/** Every kind of failure becomes the errno the design promises (and the log names). */
class ErrnoTest {
    @Test
    void eachKindHasItsErrno() {
        Map<Kind, Integer> expected = Map.ofEntries(
                Map.entry(Kind.NOT_FOUND, ErrorCodes.ENOENT()),
                Map.entry(Kind.READ_ONLY, ErrorCodes.EROFS()),
                Map.entry(Kind.EXISTS, ErrorCodes.EEXIST()),
                Map.entry(Kind.BUSY, ErrorCodes.EBUSY()),
                Map.entry(Kind.NO_SPACE, ErrorCodes.ENOSPC()),
                Map.entry(Kind.INVALID_ARGUMENT, ErrorCodes.EINVAL()),
                Map.entry(Kind.NOT_DIRECTORY, ErrorCodes.ENOTDIR()),
                Map.entry(Kind.IS_DIRECTORY, ErrorCodes.EISDIR()),
                Map.entry(Kind.NO_ATTRIBUTE, ErrorCodes.ENODATA()),
                Map.entry(Kind.CORRUPT, ErrorCodes.EIO()),
                Map.entry(Kind.UNSUPPORTED, ErrorCodes.EIO()),
                Map.entry(Kind.IO, ErrorCodes.EIO()));
        assertEquals(Kind.values().length, expected.size());
        for (Kind k : Kind.values()) {
            assertEquals(-expected.get(k), Errno.of(new ImageException(k, "x")), k.name());
        }
        assertEquals(-ErrorCodes.EIO(), Errno.of(new IllegalStateException("bug")));
        assertTrue(Errno.worthLogging(new ImageException(Kind.IO, "x")));
        assertFalse(Errno.worthLogging(new ImageException(Kind.BUSY, "x")));
    }
}
