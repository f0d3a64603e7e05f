package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.qsnapfs.engine.check.CheckResult;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Rendering of check results; agreement with qemu-img's own output is tested in ConsistencyCheckTest. */
class CheckReportTest {
    private static CheckResult result(long checkErrors, long corruptions, long leaks, boolean complete) {
        return new CheckResult("dir/a \"b\".qcow2", "qcow2", complete, complete ? null : "a.qcow2: stopped",
                checkErrors, corruptions, leaks, 589824, 128, 4, 1, 0, List.of("Leaked cluster 5 refcount=2 reference=1"),
                2);
    }

    @Test
    void percentagesRoundLikeCPrintf() {
        assertEquals("3.12", CheckReport.percent(4 * 100.0 / 128)); // exact tie: to even
        assertEquals("0.38", CheckReport.percent(0.375));
        assertEquals("12.50", CheckReport.percent(12.5));
        assertEquals("1.00", CheckReport.percent(1.005)); // the double lies below 1.005
        assertEquals("2.67", CheckReport.percent(2.675));
        assertEquals("100.00", CheckReport.percent(100.0));
        assertEquals("0.00", CheckReport.percent(0.0));
        assertEquals("33.33", CheckReport.percent(100.0 / 3));
    }

    @Test
    void humanReportListsEveryKindOfProblem() {
        assertEquals("\n2 errors were found on the image.\n"
                + "Data may be corrupted, or further writes to the image may corrupt it.\n"
                + "\n3 leaked clusters were found on the image.\n"
                + "This means waste of disk space, but no harm to data.\n"
                + "\n1 internal errors have occurred during the check.\n"
                + "4/128 = 3.12% allocated, 25.00% fragmented, 0.00% compressed clusters\n"
                + "Image end offset: 589824\n", CheckReport.human(result(1, 2, 3, true)));
        assertEquals(1, result(1, 2, 3, true).exitStatus());
        assertEquals(2, result(0, 2, 3, true).exitStatus());
        assertEquals(3, result(0, 0, 3, true).exitStatus());
        assertEquals(0, result(0, 0, 0, true).exitStatus());
        assertEquals(1, result(0, 0, 0, false).exitStatus());
        assertEquals("", CheckReport.human(result(0, 0, 0, false)));
        assertEquals("Leaked cluster 5 refcount=2 reference=1\n(2 more findings not shown)\n",
                CheckReport.messages(result(0, 0, 1, true)));
    }

    @Test
    void jsonLooksLikeQemuImgs() {
        assertEquals("{\n"
                + "    \"image-end-offset\": 589824,\n"
                + "    \"total-clusters\": 128,\n"
                + "    \"check-errors\": 0,\n"
                + "    \"leaks\": 3,\n"
                + "    \"allocated-clusters\": 4,\n"
                + "    \"filename\": \"dir/a \\\"b\\\".qcow2\",\n"
                + "    \"format\": \"qcow2\",\n"
                + "    \"fragmented-clusters\": 1\n"
                + "}", CheckReport.json(result(0, 0, 3, true)));
        assertEquals("\"\\u00E9\\n\\u0001\"", CheckReport.jsonString("\u00e9\n\u0001"));
    }
}
