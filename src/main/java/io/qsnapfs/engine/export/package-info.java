/**
 * Writing a disk out to a file, reading it only through {@link io.qsnapfs.engine.read.BlockSource}:
 * <ul>
 * <li>raw ({@link io.qsnapfs.engine.export.Exporter}): a whole disk into a sparse file, a device or a
 *     pipe, data copied in the kernel; or only the ranges that changed since an older disk into a
 *     raw copy of that disk (the changes as {@link io.qsnapfs.engine.read.Diff} finds them);
 * <li>qcow2 ({@link io.qsnapfs.engine.export.QcowExport}): a standalone image of a snapshot or the
 *     active layer, or a delta that holds only the clusters that changed since an older disk and
 *     names that disk's export as its backing file. The image is built in one pass over the disk
 *     with memory bounded by the L1 table, using the format layer's encoders, in an order that
 *     leaves an interrupted export refused by every reader (the crash argument at its lines).
 * </ul>
 * Never writes an image it reads.
 */
package io.qsnapfs.engine.export;
