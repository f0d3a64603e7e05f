/**
 * Writing a disk out to a new file as a qcow2 image ({@link io.qsnapfs.engine.export.QcowExport}):
 * a standalone image of a snapshot or the active layer, or a delta that holds only the clusters
 * that changed since an older disk and names that disk's export as its backing file. The image is
 * built in one pass over the disk with memory bounded by the L1 table, using the format layer's
 * encoders, in an order that leaves an interrupted export refused by every reader (the crash
 * argument at its lines). Reads only through {@link io.qsnapfs.engine.read.BlockSource}; the raw
 * export is {@link io.qsnapfs.engine.read.Exporter}'s.
 */
package io.qsnapfs.engine.export;
