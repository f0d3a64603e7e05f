/**
 * Writing images: the snapshot operations create, delete and apply in QEMU's crash-safe order
 * ({@link io.qsnapfs.engine.write.WritableImage}, each step's crash argument at its lines), on an
 * in-memory refcount editor and cluster allocator ({@link io.qsnapfs.engine.write.RefcountEditor})
 * and the walk that adds or removes the references an L1 table makes and sets COPIED ({@link
 * io.qsnapfs.engine.write.TableReferences}, its L2 tables read ahead of it on a second thread by
 * {@link io.qsnapfs.engine.write.L2ReadAhead}). Every write goes through the shared layer's {@link
 * io.qsnapfs.engine.MetadataGuard}. When a running VM holds the image, create and delete are
 * handed to its QEMU over QMP instead ({@link io.qsnapfs.engine.write.QemuHandoff}), under the same
 * lookup and name rules.
 */
package io.qsnapfs.engine.write;
