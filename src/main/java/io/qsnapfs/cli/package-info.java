/**
 * The {@code qsnapfs} command line (picocli): one class per command, and the rendering of their
 * output (qemu-img's formats where a qemu-img command has the same job).
 */
package io.qsnapfs.cli;
