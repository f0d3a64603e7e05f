/**
 * Checking images: {@link io.qsnapfs.engine.check.ConsistencyCheck} finds what {@code qemu-img
 * check} finds (corruptions, leaks, check errors, with QEMU's messages), counting every reference
 * in a bounded tally ({@link io.qsnapfs.engine.check.ClusterTally}) against the stored refcounts
 * ({@link io.qsnapfs.engine.check.Refcounts}), and reads the image the way QEMU's check does (zeros
 * past the end of the file). The same walk, over one snapshot's tables into a bounded window of
 * counts, gives the bytes deleting that snapshot would free ({@link
 * io.qsnapfs.engine.check.ExclusiveClusters}). Never writes; rendering the result is the command
 * line's.
 */
package io.qsnapfs.engine.check;
