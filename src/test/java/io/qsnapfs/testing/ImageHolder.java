package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real QEMU tool keeping an image open, as a running VM would: {@code qemu-io} reading commands
 * from a pipe this object holds open (EOF on close makes it quit), or a foreground {@code qemu-nbd}
 * (stopped with SIGTERM). {@link #close()} ends the process and waits for it, so the image is free
 * again when it returns.
 */
public final class ImageHolder implements AutoCloseable {
    private final String what;
    private final Process process;
    private final Path image;
    /** Whether the tool quits at end of input (qemu-io); else it is sent SIGTERM (qemu-nbd). */
    private final boolean quitsAtEof;
    /** Ends the tool should the test JVM exit without closing this (qemu-nbd outlives its parent). */
    private final Thread reaper;

    private ImageHolder(String what, Process process, Path image, boolean quitsAtEof) {
        this.what = what;
        this.process = process;
        this.image = image;
        this.quitsAtEof = quitsAtEof;
        this.reaper = new Thread(process::destroyForcibly);
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /** {@code qemu-io -f qcow2 IMAGE}: holds the image for reading and writing. */
    public static ImageHolder qemuIo(Path image) {
        return start("qemu-io (read-write)", image, true, List.of("qemu-io", "-f", "qcow2", image.toString()));
    }

    /** {@code qemu-io -r -f qcow2 IMAGE}: holds the image for reading only. */
    public static ImageHolder qemuIoReadOnly(Path image) {
        return start("qemu-io -r", image, true, List.of("qemu-io", "-r", "-f", "qcow2", image.toString()));
    }

    /** {@code qemu-nbd -t -f qcow2 --socket SOCKET IMAGE} in the foreground: serves the image read-write. */
    public static ImageHolder qemuNbd(Path image, Path socket) {
        return start("qemu-nbd", image, false, List.of("qemu-nbd", "-t", "-f", "qcow2", "--socket=" + socket, image.toString()));
    }

    private static ImageHolder start(String what, Path image, boolean quitsAtEof, List<String> command) {
        int before = ProcLocks.of(image).size();
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("LC_ALL", "C");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            fail("cannot run " + command.get(0) + " (" + e.getMessage() + "); run make setup");
            return null;
        }
        ImageHolder holder = new ImageHolder(what, p, image, quitsAtEof);
        // The tool has the image once its locks show. QEMU takes them in one go at open, byte 203
        // (resize not shared) last; every holder here refuses to share resize.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ProcLocks.of(image).size() <= before || !ProcLocks.bytes(image).contains(203L)) {
            if (!p.isAlive()) {
                fail(what + " on " + image + " exited " + p.exitValue() + " before it held the image");
            }
            if (System.nanoTime() > deadline) {
                holder.close();
                fail(what + " on " + image + " did not lock it within 30 s");
            }
            sleep(20);
        }
        return holder;
    }

    public String description() {
        return what;
    }

    /** Ends the tool and waits until it has exited (and so released the image). */
    @Override
    public void close() {
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            if (!quitsAtEof || !process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway; the process is gone already
        }
    }

    @Override
    public String toString() {
        return what + " on " + image.getFileName();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
