/**
 * Reading images: opening and validating an image and its backing chain and data file ({@link
 * io.qsnapfs.engine.read.QcowImage}, {@link io.qsnapfs.engine.read.BackingChain}); the one
 * translation path from guest ranges to host extents ({@link io.qsnapfs.engine.read.BlockSource},
 * {@link io.qsnapfs.engine.read.Qcow2View}, the way QEMU's {@code load_tmp} reads a snapshot
 * through its own L1 table); the process-wide caches bounded in bytes; decompression; the ranges
 * where two disks of an image differ, from their tables ({@link io.qsnapfs.engine.read.Diff}).
 * Never writes a file.
 */
package io.qsnapfs.engine.read;
