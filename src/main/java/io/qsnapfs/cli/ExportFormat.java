package io.qsnapfs.cli;

/** What {@code export} writes: a raw disk, or a qcow2 image of its own ({@code -O}, as in qemu-img convert). */
enum ExportFormat {
    raw,
    qcow2
}
