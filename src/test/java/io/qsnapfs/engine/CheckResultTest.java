package io.qsnapfs.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Rendering of check results; agreement with qemu-img's own output is tested in ConsistencyCheckTest. */
class CheckResultTest {
    private static CheckResult result(long checkErrors, long corruptions, long leaks, boolean complete) {
        return new CheckResult("dir/a \"b\".qcow2", "qcow2", complete, complete ? null : "a.qcow2: stopped",
                checkErrors, corruptions, leaks, 589824, 128, 4, 1, 0, List.of("Leaked cluster 5 refcount=2 reference=1"),
                2);
    }

    @Test
    void percentagesRoundLikeCPrintf() {
        assertEquals("3.12", CheckResult.percent(4 * 100.0 / 128)); // exact tie: to even
        assertEquals("0.38", CheckResult.percent(0.375));
        assertEquals("12.50", CheckResult.percent(12.5));
        assertEquals("1.00", CheckResult.percent(1.005)); // the double lies below 1.005
        assertEquals("2.67", CheckResult.percent(2.675));
        assertEquals("100.00", CheckResult.percent(100.0));
        assertEquals("0.00", CheckResult.percent(0.0));
        assertEquals("33.33", CheckResult.percent(100.0 / 3));
    }

    @Test
    void humanReportListsEveryKindOfProblem() {
        assertEquals("\n2 errors were found on the image.\n"
                + "Data may be corrupted, or further writes to the image may corrupt it.\n"
                + "\n3 leaked clusters were found on the image.\n"
                + "This means waste of disk space, but no harm to data.\n"
                + "\n1 internal errors have occurred during the check.\n"
                + "4/128 = 3.12% allocated, 25.00% fragmented, 0.00% compressed clusters\n"
                + "Image end offset: 589824\n", result(1, 2, 3, true).renderHuman());
        assertEquals(1, result(1, 2, 3, true).exitStatus());
        assertEquals(2, result(0, 2, 3, true).exitStatus());
        assertEquals(3, result(0, 0, 3, true).exitStatus());
        assertEquals(0, result(0, 0, 0, true).exitStatus());
        assertEquals(1, result(0, 0, 0, false).exitStatus());
        assertEquals("", result(0, 0, 0, false).renderHuman());
        assertEquals("Leaked cluster 5 refcount=2 reference=1\n(2 more findings not shown)\n",
                result(0, 0, 1, true).renderMessages());
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
                + "}", result(0, 0, 3, true).renderJson());
        assertEquals("\"\\u00E9\\n\\u0001\"", CheckResult.jsonString("\u00e9\n\u0001"));
    }
}
