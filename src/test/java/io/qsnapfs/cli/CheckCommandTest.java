package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs check} prints and exits like {@code qemu-img check}, clean and with planted faults;
 * at a terminal a large image gets a progress bar on standard error.
 */
class CheckCommandTest {
    @TempDir
    Path dir;

    private Path image() {
        Path img = Qemu.create(dir.resolve("vm.qcow2"), "16M", "cluster_size=4k");
        Qemu.io(img, "write -P 0x11 0 1M", "write -c -P 0x22 2M 64k");
        Qemu.snapshot(img, "one");
        Qemu.io(img, "write -P 0x33 512k 1M");
        Qemu.snapshot(img, "two");
        return img;
    }

    private static void assertSameAsQemu(Path img, int expectedStatus) {
        Processes.Output qemu = Qemu.run(List.of("qemu-img", "check", img.toString()));
        CliRun ours = CliRun.of("check", img.toString());
        assertEquals(expectedStatus, qemu.exitCode(), qemu.stdout() + qemu.stderr());
        assertEquals(qemu.exitCode(), ours.status(), ours.toString());
        assertEquals(qemu.stdout(), ours.outText(), ours.toString());

        Processes.Output qemuJson = Qemu.run(List.of("qemu-img", "check", "--output=json", img.toString()));
        CliRun oursJson = CliRun.of("check", "--output", "json", img.toString());
        assertEquals(qemuJson.stdout(), oursJson.outText());
        assertEquals(qemuJson.exitCode(), oursJson.status());
    }

    @Test
    void cleanImage() {
        assertSameAsQemu(image(), 0);
    }

    @Test
    void leakedCluster() throws Exception {
        Path img = image();
        // one more reference on the header cluster: stored 2, counted 1 -> a leak
        long refcountTable = Poke.readU64(img, 48);
        long firstBlock = Poke.readU64(img, refcountTable);
        Poke.u16(img, firstBlock, 2);
        assertSameAsQemu(img, 3);
    }

    @Test
    void corruption() throws Exception {
        Path img = image();
        long refcountTable = Poke.readU64(img, 48);
        long firstBlock = Poke.readU64(img, refcountTable);
        Poke.u16(img, firstBlock, 0); // the header cluster claims no reference
        assertSameAsQemu(img, 2);
        assertTrue(CliRun.of("check", img.toString()).err().contains("ERROR"), "findings go to stderr");
    }

    /** Runs check as at a terminal; returns {exit status, stdout, stderr}. */
    private static String[] atTerminal(Path img) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Streams terminal = new Streams(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), true);
        int status = Main.run(terminal, "check", img.toString());
        return new String[] {Integer.toString(status), out.toString(StandardCharsets.UTF_8),
            err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void atATerminalLargeImagesGetAProgressBarOnStandardError() throws Exception {
        Path img = image();
        String[] small = atTerminal(img);
        assertEquals("0", small[0]);
        assertEquals("", small[2], "no bar for a small image");

        // a file of 1 GiB (a hole after the image's clusters, which QEMU does not mind)
        Poke.setLength(img, CheckCommand.PROGRESS_FROM_BYTES);
        Processes.Output qemu = Qemu.run(List.of("qemu-img", "check", img.toString()));
        String[] large = atTerminal(img);
        assertEquals(Integer.toString(qemu.exitCode()), large[0]);
        assertEquals(qemu.stdout(), large[1], "the report is qemu-img's, with or without a bar");
        assertTrue(large[2].contains("check vm.qcow2") && large[2].contains("100%"), large[2]);
        assertEquals("", CliRun.of("check", img.toString()).err(), "no bar without a terminal");
    }

    @Test
    void notAnImage() throws Exception {
        java.nio.file.Files.writeString(dir.resolve("x.qcow2"), "hello");
        CliRun r = CliRun.of("check", dir.resolve("x.qcow2").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("qsnapfs: x.qcow2: "), r.err());
    }
}
