package io.qsnapfs.io;

/**
 * QEMU's block-layer permissions (its {@code BLK_PERM_*}), as far as they show in the image file's
 * locks: permission {@code bit} is announced by a lock on byte 100 + bit when held and on byte
 * 200 + bit when not shared with others (see {@link ImageLock}).
 *
 * <p>QEMU 6.1 and older also had a fifth permission, "change children" (graph-mod, bit 4); QEMU
 * 6.2 dropped it, and 7.2 neither takes nor tests bytes 104 and 204, so neither do we.
 */
enum BlockPermission {
    /** Reading gives a self-consistent view of the disk. */
    CONSISTENT_READ(0, "consistent read"),
    /** Changing what the disk reads as. */
    WRITE(1, "write"),
    /** Writing without changing what the disk reads as. */
    WRITE_UNCHANGED(2, "write unchanged"),
    /** Changing the size of the file. */
    RESIZE(3, "resize");

    private final int bit;
    private final String qemuName;

    BlockPermission(int bit, String qemuName) {
        this.bit = bit;
        this.qemuName = qemuName;
    }

    /** The byte locked while this permission is held: 100 + bit. */
    long heldByte() {
        return ImageLock.PERM_BASE + bit;
    }

    /** The byte locked while this permission is not shared with others: 200 + bit. */
    long unsharedByte() {
        return ImageLock.SHARED_BASE + bit;
    }

    /** The name QEMU's messages use ({@code bdrv_perm_names}). */
    String qemuName() {
        return qemuName;
    }
}
