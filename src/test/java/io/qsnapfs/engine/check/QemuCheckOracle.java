package io.qsnapfs.engine.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.qsnapfs.cli.CheckReport;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Runs {@code qemu-img check} and our {@link ConsistencyCheck} on the same file and asserts that
 * they agree: exit status, the whole JSON report, the whole human report, and the list of
 * findings (qemu-img's standard error without its own "qemu-img:"/"qcow2:" lines).
 */
final class QemuCheckOracle {
    private QemuCheckOracle() {
    }

    /** Asserts agreement and returns our result. */
    static CheckResult assertSameAsQemu(Path image) {
        CheckResult ours = ConsistencyCheck.run(image);
        Processes.Output json = Qemu.run(List.of("qemu-img", "check", "--output=json", image.toString()));
        Processes.Output human = Qemu.run(List.of("qemu-img", "check", image.toString()));
        String context = image + "\nqemu-img check:\n" + human.stdout() + human.stderr() + "\nours:\n"
                + CheckReport.human(ours) + CheckReport.messages(ours) + (ours.failure() == null ? "" : ours.failure());
        assertEquals(json.exitCode(), ours.exitStatus(), "exit status; " + context);
        assertEquals(human.exitCode(), ours.exitStatus(), "exit status; " + context);
        assertTrue(ours.complete(), "our check did not complete; " + context);
        assertEquals(json.stdout().strip(), CheckReport.json(ours), "JSON report; " + context);
        assertEquals(human.stdout(), CheckReport.human(ours), "human report; " + context);
        assertTrue(ours.messagesDropped() == 0, "too many findings to compare; " + context);
        assertEquals(findings(human.stderr()), ours.messages(), "findings; " + context);
        return ours;
    }

    /** Asserts agreement and that both call the image clean. */
    static CheckResult assertCleanLikeQemu(Path image) {
        CheckResult r = assertSameAsQemu(image);
        assertEquals(0, r.exitStatus(), image + ":\n" + CheckReport.human(r) + CheckReport.messages(r));
        assertEquals(List.of(), r.messages());
        return r;
    }

    /** qemu-img's finding lines: its standard error without lines it adds about itself. */
    static List<String> findings(String stderr) {
        List<String> out = new ArrayList<>();
        for (String line : Arrays.asList(stderr.split("\n"))) {
            if (line.isEmpty() || line.startsWith("qemu-img:") || line.startsWith("qcow2:")
                    || line.startsWith("Use qemu-img amend")) {
                continue;
            }
            out.add(line);
        }
        return out;
    }
}
