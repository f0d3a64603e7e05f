package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qsnapfs IMAGE_DIR MOUNTPOINT -o OPTIONS}, as mount.fuse runs it, is {@code qsnapfs mount}. The
 * real mount through mount(8) and fstab is native-tests/mount-fstab.sh; here only calls that fail
 * before anything is mounted.
 */
class MountHelperCallTest {
    private static final Set<String> COMMANDS = Set.of("info", "snapshot", "mount", "umount");

    @TempDir
    Path dir;

    @Test
    void aPathFirstIsAMount() {
        String[] call = {"/var/lib/libvirt/images", "/mnt/snaps", "-o", "rw,allow_other,dev,suid"};
        assertArrayEquals(new String[] {"mount", "/var/lib/libvirt/images", "/mnt/snaps", "-o", "rw,allow_other,dev,suid"},
                MountHelperCall.asCommand(call, COMMANDS));
    }

    @Test
    void anExistingDirectoryWithoutASlashIsAMount() throws Exception {
        Files.createDirectory(dir.resolve("images"));
        String images = dir.resolve("images").toString();
        assertTrue(MountHelperCall.isHelperCall(new String[] {images, "mnt"}, COMMANDS));
        // relative to the working directory, which is not dir: no such directory, so a usage error
        assertEquals(false, MountHelperCall.isHelperCall(new String[] {"images", "mnt"}, COMMANDS));
    }

    @Test
    void commandsOptionsAndTyposStayAsTheyAre() {
        for (String[] args : new String[][] {{"info", "/x/y.qcow2"}, {"mount", "/a", "/b"}, {"--help"},
            {"-o", "ro", "/a", "/b"}, {"frobnicate", "x"}, {"/only-one"}, {}}) {
            assertArrayEquals(args, MountHelperCall.asCommand(args, COMMANDS), String.join(" ", args));
        }
    }

    @Test
    void throughMainAMissingMountPointIsOneLine() throws Exception {
        Path images = Files.createDirectory(dir.resolve("images"));
        Path mp = dir.resolve("nowhere");
        CliRun r = CliRun.of(images.toString(), mp.toString(), "-o", "rw,allow_other,dev,suid");
        assertEquals(1, r.status(), r.toString());
        assertEquals("qsnapfs: " + mp + ": mount point does not exist or is not a directory\n", r.err());
    }

    @Test
    void throughMainAnUnknownOptionIsAUsageErrorNamingIt() throws Exception {
        Path images = Files.createDirectory(dir.resolve("images"));
        Path mp = Files.createDirectory(dir.resolve("mnt"));
        CliRun r = CliRun.of(images.toString(), mp.toString(), "-o", "rw,frob,dev,suid");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().startsWith("unknown mount option 'frob'; qsnapfs takes ro, rw, "), r.err());
        assertTrue(r.err().contains("Usage: qsnapfs mount"), r.err());
        CliRun typo = CliRun.of("frobnicate", mp.toString());
        assertEquals(2, typo.status(), typo.toString());
        assertTrue(typo.err().contains("Unmatched argument"), typo.err());
    }
}
