package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Snapshots with a saved VM state, taken the way a user of a VM takes them: {@code savevm NAME} in
 * the HMP monitor of a {@code qemu-system-x86_64} (TCG, 64 MiB, no devices but the image as its
 * IDE disk). The VM runs for a moment first ({@code cont}, then {@code stop}), so the snapshots
 * have a VM clock that is not zero and a VM state of several hundred KiB, stored by QEMU in the
 * snapshot's L1 tree after the disk area. The monitor reads its commands from a pipe, one after
 * the other, and {@code quit} ends the VM once the last snapshot is on disk.
 *
 * <p>A minimal stand-in until the VM-state branch's fixture for {@code qemu-system-x86_64} lands;
 * the two are to be merged into one.
 */
public final class Savevm {
    /** How long the VM runs before its snapshots are taken. */
    private static final String RUN_SECONDS = "0.3";

    private Savevm() {
    }

    /**
     * Takes a {@code savevm} snapshot named {@code names[i]} (plain words: the monitor splits at
     * spaces) of {@code image}, one after another; each must succeed.
     */
    public static void take(Path image, String... names) {
        List<String> command = new ArrayList<>(List.of("sh", "-c", """
                image=$1; seconds=$2; shift 2
                { printf 'cont\\n'; sleep "$seconds"; printf 'stop\\n'
                  for name; do printf 'savevm %s\\n' "$name"; done
                  printf 'quit\\n'; } |
                qemu-system-x86_64 -machine pc,accel=tcg -m 64 -nodefaults -display none -S \\
                    -drive "file=$image,format=qcow2,if=ide" -monitor stdio
                """, "sh", image.toString().replace(",", ",,"), RUN_SECONDS));
        command.addAll(List.of(names));
        Processes.Output r = Processes.run(command, Map.of(), null, 120, "qemu-system-x86_64 savevm on " + image);
        String all = r.stdout() + r.stderr();
        if (r.exitCode() == 127 || all.contains("not found")) {
            fail("cannot run qemu-system-x86_64 (" + all.trim() + "); run make setup");
        }
        if (r.exitCode() != 0 || all.contains("Error") || all.contains("rror:")) {
            fail("savevm " + String.join(", ", names) + " on " + image + " exited " + r.exitCode() + ":\n" + all);
        }
    }
}
