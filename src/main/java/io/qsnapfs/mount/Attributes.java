package io.qsnapfs.mount;

/**
 * What {@code stat} shows for a node.
 *
 * @param directory true for directories
 * @param mode      permission bits (0444, 0555, 0755)
 * @param size      bytes
 * @param blocks    512-byte blocks
 * @param mtimeSec  modification time, seconds since the epoch
 * @param mtimeNsec nanoseconds of the modification time
 * @param links     link count
 */
public record Attributes(boolean directory, int mode, long size, long blocks, long mtimeSec, long mtimeNsec,
        int links) {
}
