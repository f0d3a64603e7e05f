package io.qsnapfs.mount;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Which snapshot names and IDs can be shown as file names. A name is shown under
 * {@code snapshots/} only when it is one safe path component: not empty, not {@code .} or
 * {@code ..}, no {@code /} or NUL, valid UTF-8 (names cross FUSE as strings), and short enough
 * that {@code NAME.raw} fits the 255-byte limit of a file name. The same rules make an ID the name
 * of its files under {@code by-id/} ({@code ID.raw}) and {@code vm-state/} ({@code ID.vmstate}).
 */
public final class SnapshotNames {
    /** Suffix of every snapshot file. */
    public static final String SUFFIX = ".raw";
    /** Suffix of every VM state file. */
    public static final String VM_STATE_SUFFIX = ".vmstate";
    private static final int NAME_MAX = 255;

    private SnapshotNames() {
    }

    /** The snapshot file name for a stored name or ID, or null when it cannot be one. */
    public static String fileName(byte[] stored) {
        return fileName(stored, SUFFIX);
    }

    /** The file name for a stored name or ID followed by {@code suffix}, or null when it cannot be one. */
    public static String fileName(byte[] stored, String suffix) {
        if (stored.length == 0 || stored.length + suffix.length() > NAME_MAX) {
            return null;
        }
        for (byte b : stored) {
            if (b == '/' || b == 0) {
                return null;
            }
        }
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(stored)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
        if (s.equals(".") || s.equals("..")) {
            return null;
        }
        return s + suffix;
    }

    /** True when a request name (control directory) is a usable snapshot name. */
    public static boolean isValidRequestName(String name) {
        return fileName(name.getBytes(StandardCharsets.UTF_8)) != null;
    }
}
