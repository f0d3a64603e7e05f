package io.qsnapfs.mount;

/**
 * Text from outside (snapshot names, file names, messages that quote them) made safe for a line of
 * {@code control/log}: one line per event, whatever the names contain.
 */
final class LogText {
    private LogText() {
    }

    /** Control characters and backslashes as escapes, so the text stays on one line. */
    static String escape(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                if (sb == null) {
                    sb = new StringBuilder(s.substring(0, i));
                }
                sb.append(c == '\\' ? "\\\\" : String.format("\\x%02x", (int) c));
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? s : sb.toString();
    }

    /** A request's argument in double quotes, so names with spaces or colons read unambiguously. */
    static String quote(String s) {
        return '"' + escape(s).replace("\"", "\\\"") + '"';
    }
}
