/**
 * Files as the host sees them: positional, thread-safe reads and writes with a native descriptor
 * of the same open file ({@link io.qsnapfs.io.PositionalFile}) for splicing and locking, the few
 * libc calls Java lacks ({@link io.qsnapfs.io.LibC}), and QEMU's OFD image locks
 * ({@link io.qsnapfs.io.ImageLock}). Knows nothing of qcow2.
 */
package io.qsnapfs.io;
