package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.testing.Poke;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code qsnapfs check} prints and exits like {@code qemu-img check}, clean and with planted faults. */
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

    @Test
    void notAnImage() throws Exception {
        java.nio.file.Files.writeString(dir.resolve("x.qcow2"), "hello");
        CliRun r = CliRun.of("check", dir.resolve("x.qcow2").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("qsnapfs: x.qcow2: "), r.err());
    }
}
