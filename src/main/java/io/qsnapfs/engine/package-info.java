/**
 * The qcow2 engine. Reading: opening and validating an image ({@link io.qsnapfs.engine.QcowImage}),
 * backing chains, the one translation path from guest ranges to extents
 * ({@link io.qsnapfs.engine.BlockSource}, {@link io.qsnapfs.engine.Qcow2View}), bounded caches,
 * decompression and export. Checking: {@link io.qsnapfs.engine.ConsistencyCheck}, qemu-img check's
 * findings. Writing: the snapshot operations ({@link io.qsnapfs.engine.WritableImage}) on an
 * in-memory refcount editor and reference walk, every write through the metadata overlap guard
 * ({@link io.qsnapfs.engine.MetadataGuard}).
 */
package io.qsnapfs.engine;
