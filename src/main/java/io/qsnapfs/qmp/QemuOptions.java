package io.qsnapfs.qmp;

import java.util.HashMap;
import java.util.Map;

/**
 * The value of one QEMU command-line option in QEMU's key=value syntax (QemuOpts), e.g.
 * {@code socket,id=mon0,path=/run/vm.sock,server=on,wait=off}, read the way QEMU 7.2 reads it:
 * <ul>
 * <li>elements are separated by commas; in a value, {@code ,,} is a comma;
 * <li>a first element without {@code =} is the value of the option's implied key, if it has one
 *     ({@code backend} for {@code -chardev}, {@code chardev} for {@code -mon}, {@code path} after
 *     {@code -qmp unix:});
 * <li>any other element without {@code =} is a flag: {@code server} means {@code server=on},
 *     {@code nowait} means {@code wait=off};
 * <li>a key given twice has its last value, but for {@code id}, which has its first.
 * </ul>
 * Owns the keys and values of one option; knows nothing of what they mean.
 */
final class QemuOptions {
    private final Map<String, String> values;

    private QemuOptions(Map<String, String> values) {
        this.values = values;
    }

    /**
     * Reads {@code text}.
     *
     * @param impliedKey the key of a first element without {@code =}, or null when the option has none
     */
    static QemuOptions parse(String text, String impliedKey) {
        Map<String, String> values = new HashMap<>();
        int at = 0;
        boolean first = true;
        while (at < text.length()) {
            int nameEnd = at;
            while (nameEnd < text.length() && text.charAt(nameEnd) != '=' && text.charAt(nameEnd) != ',') {
                nameEnd++;
            }
            String key;
            StringBuilder value = new StringBuilder();
            if (nameEnd < text.length() && text.charAt(nameEnd) == '=') {
                key = text.substring(at, nameEnd);
                at = readValue(text, nameEnd + 1, value);
            } else if (first && impliedKey != null) {
                key = impliedKey;
                at = readValue(text, at, value);
            } else {
                String flag = text.substring(at, nameEnd);
                boolean negated = flag.startsWith("no");
                key = negated ? flag.substring(2) : flag;
                value.append(negated ? "off" : "on");
                at = nameEnd;
            }
            if (key.equals("id")) {
                values.putIfAbsent(key, value.toString()); // QEMU takes an option's first id
            } else {
                values.put(key, value.toString());
            }
            first = false;
            if (at < text.length()) {
                at++; // the comma that ends the element
            }
        }
        return new QemuOptions(values);
    }

    /** Appends the value that starts at {@code at} to {@code value}; returns where it ends (a lone comma, or the end). */
    private static int readValue(String text, int at, StringBuilder value) {
        while (at < text.length()) {
            char c = text.charAt(at);
            if (c == ',') {
                if (at + 1 < text.length() && text.charAt(at + 1) == ',') {
                    value.append(',');
                    at += 2;
                    continue;
                }
                break;
            }
            value.append(c);
            at++;
        }
        return at;
    }

    /** The value of {@code key}, or null when the option does not give it. */
    String get(String key) {
        return values.get(key);
    }

    /**
     * Whether the boolean {@code key} is on: {@code on}, {@code yes}, {@code true} or {@code y}, as
     * QEMU reads booleans; {@code fallback} when the option does not give it. A value that is none
     * of QEMU's words (QEMU would refuse to start) counts as off.
     */
    boolean isOn(String key, boolean fallback) {
        String v = values.get(key);
        if (v == null) {
            return fallback;
        }
        return v.equals("on") || v.equals("yes") || v.equals("true") || v.equals("y");
    }
}
