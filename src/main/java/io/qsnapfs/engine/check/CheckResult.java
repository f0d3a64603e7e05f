package io.qsnapfs.engine.check;

import java.util.List;

/**
 * What a consistency check found, with the numbers {@code qemu-img check} reports and the same
 * meaning. How it is printed is the command line's business ({@code cli.CheckReport}).
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
}
