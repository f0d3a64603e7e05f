/**
 * The running QEMU that holds an image, and a conversation with it: which processes have the
 * image open and which QMP monitor sockets their command lines name ({@link io.qsnapfs.qmp.FileHolder},
 * found through {@code /proc}), and one QMP session on such a socket ({@link io.qsnapfs.qmp.QmpClient}),
 * in which every wait has a time limit. Failures are {@link io.qsnapfs.qmp.QmpException}s, with
 * subclasses for a monitor that is busy with another client, a command whose reply did not come in
 * time, and an error QEMU answered. Knows nothing of qcow2 or of what the commands do; uses only
 * {@code io.qsnapfs.io}, Jackson and the JDK.
 */
package io.qsnapfs.qmp;
