package io.qsnapfs.engine;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a consistency check found, with the numbers {@code qemu-img check} reports and the same
 * meaning.
 *
 * @param filename           the image as the user named it
 * @param format             always "qcow2"
 * @param complete           false when the check had to stop early (an unreadable table, an
 *                           image too large to count); the counts are then partial
 * @param failure            why the check stopped, naming the image, or null
 * @param checkErrors        problems that kept parts of the image from being checked
 * @param corruptions        errors: a refcount lower than the references, a wrong COPIED flag,
 *                           a reference beyond the end of the file, a malformed entry
 * @param leaks              clusters whose refcount is higher than their references
 * @param imageEndOffset     end of the last cluster that is referenced or has a refcount
 * @param totalClusters      guest clusters of the virtual disk
 * @param allocatedClusters  guest clusters the active L1 table maps to host clusters
 * @param fragmentedClusters of those, the ones not contiguous with the previous one of their L2
 *                           table (every compressed cluster counts)
 * @param compressedClusters of those, the compressed ones
 * @param messages           one line per finding, in the order found, at most
 *                           {@link ConsistencyCheck#MAX_MESSAGES}
 * @param messagesDropped    findings beyond that bound
 */
public record CheckResult(
        String filename,
        String format,
        boolean complete,
        String failure,
        long checkErrors,
        long corruptions,
        long leaks,
        long imageEndOffset,
        long totalClusters,
        long allocatedClusters,
        long fragmentedClusters,
        long compressedClusters,
        List<String> messages,
        long messagesDropped) {

    public CheckResult {
        messages = List.copyOf(messages);
    }

    /** Exit status with qemu-img check's meaning: 0 clean, 1 check failed, 2 corruptions, 3 leaks only. */
    public int exitStatus() {
        if (!complete || checkErrors > 0) {
            return 1;
        }
        if (corruptions > 0) {
            return 2;
        }
        return leaks > 0 ? 3 : 0;
    }

    public boolean isClean() {
        return exitStatus() == 0;
    }

    /**
     * The report {@code qemu-img check} prints on standard output, byte for byte: the verdict,
     * the allocation line and the image end offset. Empty when the check did not complete
     * (qemu-img prints nothing then; see {@link #failure()}).
     */
    public String renderHuman() {
        if (!complete) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        if (corruptions == 0 && leaks == 0 && checkErrors == 0) {
            out.append("No errors were found on the image.\n");
        } else {
            if (corruptions != 0) {
                out.append('\n').append(corruptions).append(" errors were found on the image.\n")
                        .append("Data may be corrupted, or further writes to the image may corrupt it.\n");
            }
            if (leaks != 0) {
                out.append('\n').append(leaks).append(" leaked clusters were found on the image.\n")
                        .append("This means waste of disk space, but no harm to data.\n");
            }
            if (checkErrors != 0) {
                out.append('\n').append(checkErrors).append(" internal errors have occurred during the check.\n");
            }
        }
        if (totalClusters != 0 && allocatedClusters != 0) {
            out.append(allocatedClusters).append('/').append(totalClusters).append(" = ")
                    .append(percent(allocatedClusters * 100.0 / totalClusters)).append("% allocated, ")
                    .append(percent(fragmentedClusters * 100.0 / allocatedClusters)).append("% fragmented, ")
                    .append(percent(compressedClusters * 100.0 / allocatedClusters)).append("% compressed clusters\n");
        }
        if (imageEndOffset != 0) {
            out.append("Image end offset: ").append(imageEndOffset).append('\n');
        }
        return out.toString();
    }

    /** The findings, one per line, as qemu-img writes them to standard error. */
    public String renderMessages() {
        StringBuilder out = new StringBuilder();
        for (String m : messages) {
            out.append(m).append('\n');
        }
        if (messagesDropped > 0) {
            out.append("(").append(messagesDropped).append(" more findings not shown)\n");
        }
        return out.toString();
    }

    /**
     * C's {@code %0.2f}: the exact binary value rounded to two decimals, exact ties to even
     * (Java's own formatter rounds ties up and would print 3.13 where QEMU prints 3.12).
     */
    static String percent(double value) {
        return new BigDecimal(value).setScale(2, RoundingMode.HALF_EVEN).toPlainString();
    }

    /**
     * The fields of {@code qemu-img check --output=json}, in the order it prints them. Like
     * qemu-img, optional counts are left out when they are zero; check-errors is always there.
     */
    public Map<String, Object> toJsonMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        putNonZero(m, "image-end-offset", imageEndOffset);
        putNonZero(m, "compressed-clusters", compressedClusters);
        putNonZero(m, "total-clusters", totalClusters);
        putNonZero(m, "corruptions", corruptions);
        m.put("check-errors", checkErrors);
        putNonZero(m, "leaks", leaks);
        putNonZero(m, "allocated-clusters", allocatedClusters);
        m.put("filename", filename);
        m.put("format", format);
        putNonZero(m, "fragmented-clusters", fragmentedClusters);
        return m;
    }

    private static void putNonZero(Map<String, Object> m, String key, long value) {
        if (value != 0) {
            m.put(key, value);
        }
    }

    /** {@link #toJsonMap()} printed the way qemu-img prints it (four-space indent, no final newline). */
    public String renderJson() {
        StringBuilder out = new StringBuilder("{\n");
        var it = toJsonMap().entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            out.append("    ").append(jsonString(e.getKey())).append(": ");
            out.append(e.getValue() instanceof String s ? jsonString(s) : e.getValue().toString());
            out.append(it.hasNext() ? ",\n" : "\n");
        }
        return out.append('}').toString();
    }

    /** A JSON string literal, escaping like QEMU: control and non-ASCII characters as \\uXXXX. */
    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        b.append(String.format("\\u%04X", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
