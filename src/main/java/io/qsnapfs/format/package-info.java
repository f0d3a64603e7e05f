/**
 * The qcow2 on-disk records and their byte layouts, decoded and encoded without any I/O: the
 * header and its extensions, snapshot table entries, L1/L2 entries and their kinds
 * ({@link io.qsnapfs.format.L2Entry}), refcount blocks and table entries, and QEMU's rule for
 * finding a snapshot by ID or name ({@link io.qsnapfs.format.SnapshotLookup}). Validation that
 * needs only the bytes of one structure lives here, so that reader, writer and check share it.
 */
package io.qsnapfs.format;
