/**
 * The test layer shared by all tests, independent of the code under test: it uses only
 * {@code io.qsnapfs.format} (the spec's parsers), JUnit, Jackson and the JDK, never the engine
 * or {@code io.qsnapfs.io}, so it neither shares their bugs nor follows them when they move.
 *
 * <ul>
 * <li>{@link io.qsnapfs.testing.Qemu} runs QEMU's tools, parses what they report and converts
 * snapshots to raw bytes: the reference.
 * <li>{@link io.qsnapfs.testing.Oracle} asserts that what the code under test reads (a
 * {@link io.qsnapfs.testing.Disk}) equals what QEMU reads, that QEMU finds an image clean, and
 * that deleting a snapshot with QEMU frees the bytes the code under test says it would;
 * {@link io.qsnapfs.testing.DiffOracle} that a diff of two disks misses no byte in which QEMU's
 * reads of them differ and reports no cluster that nothing touched.
 * <li>{@link io.qsnapfs.testing.TableWalk} finds qcow2 structures from the spec and counts the
 * clusters in use;
 * {@link io.qsnapfs.testing.MetadataPoker} and {@link io.qsnapfs.testing.SnapshotEntryPoker}
 * damage them on purpose, through {@link io.qsnapfs.testing.Poke} (raw fields of a file).
 * <li>{@link io.qsnapfs.testing.RandomHistory} builds an image with a seeded random history of
 * QEMU commands and a model of the clusters each step touched; its {@link io.qsnapfs.testing.Recipe}
 * lists the commands for the failure message.
 * <li>{@link io.qsnapfs.testing.QemuVm} runs a real QEMU virtual machine ({@code qemu-system-x86_64},
 * TCG, no kernel) over an image and drives its monitor, for snapshots with VM state made by
 * {@code savevm} (and disk writes between them), or with more options such as QMP monitors;
 * {@link io.qsnapfs.testing.TableWalk#vmState} reads
 * such a snapshot's VM state where the spec places it.
 * <li>{@link io.qsnapfs.testing.Bytes} compares byte arrays and makes, reads and writes files of
 * them; {@link io.qsnapfs.testing.Processes} and {@link io.qsnapfs.testing.ChildJvm} run
 * programs; {@link io.qsnapfs.testing.ImageHolder} keeps a QEMU tool holding an image;
 * {@link io.qsnapfs.testing.ProcLocks} lists its locks; {@link io.qsnapfs.testing.RecordingFileChannel}
 * records writes to replay crashes.
 * </ul>
 *
 * A missing tool fails the test with the hint to run {@code make setup}; tests never skip.
 */
package io.qsnapfs.testing;
