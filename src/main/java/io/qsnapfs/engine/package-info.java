/**
 * The qcow2 engine's shared metadata layer, which its three parts build on: {@link
 * io.qsnapfs.engine.ImageFile}, the one place where the header, L1 and L2 tables, refcount table
 * and blocks and the snapshot table meet the disk (one validation for all, errors naming the
 * image and the structure); the {@link io.qsnapfs.engine.MetadataGuard}, through which every
 * metadata write goes, checked against every structure the image holds, and its {@link
 * io.qsnapfs.engine.WriteBatch} for the writes of one step; and {@link
 * io.qsnapfs.engine.ImageException}, the engine's one error type.
 *
 * <p>The parts: {@link io.qsnapfs.engine.read} (opening an image, translating guest ranges,
 * export), {@link io.qsnapfs.engine.write} (the snapshot operations) and {@link
 * io.qsnapfs.engine.check} (qemu-img check's findings). None of the three uses another. {@link
 * io.qsnapfs.engine.export} writes a disk that {@code read} translates to a new qcow2 file.
 */
package io.qsnapfs.engine;
