package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qsnapfs.testing.Processes;
import io.qsnapfs.testing.Qemu;
import io.qsnapfs.testing.QemuVm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link QmpClient} against a real QEMU ({@link QemuVm}, one for most of the class) with a QMP
 * monitor, a pretty one and a second human monitor: the greeting's version, {@code query-block},
 * {@code human-monitor-command} with {@code qemu-io} writing through QEMU's block layer, an unknown
 * command, events while the VM stops and resumes, a second client turned away as busy, a human
 * monitor recognised as no QMP, QEMU quitting mid-session. And the internal snapshot commands
 * with QEMU 7.2's exact answers, on {@code -drive} and on {@code -blockdev} nodes, which the
 * engine's snapshot requests rely on.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QmpClientTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static Path image;
    private static Path qmpSocket;
    private static QemuVm vm;

    @BeforeAll
    static void startVm() {
        image = Qemu.create(dir.resolve("vm.qcow2"), "16M", null);
        qmpSocket = dir.resolve("qmp.sock");
        vm = QemuVm.on(image).qmp(qmpSocket).args(
                "-qmp-pretty", "unix:" + dir.resolve("pretty.sock") + ",server=on,wait=off",
                "-monitor", "unix:" + dir.resolve("hmp.sock") + ",server=on,wait=off").start();
    }

    @AfterAll
    static void stopVm() {
        if (vm != null) {
            vm.close();
        }
    }

    private static ObjectNode args(String... keysAndValues) {
        ObjectNode o = JSON.createObjectNode();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            o.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return o;
    }

    private static JsonNode hmp(QmpClient qmp, String commandLine) throws QmpException {
        return qmp.execute("human-monitor-command", args("command-line", commandLine), TIMEOUT);
    }

    @Test
    void greetingAndQueryBlock() throws Exception {
        Matcher version = Pattern.compile("version (\\d+\\.\\d+\\.\\d+)")
                .matcher(Processes.ok("qemu-system-x86_64", "--version"));
        assertTrue(version.find());
        try (QmpClient qmp = QmpClient.connect(qmpSocket, TIMEOUT)) {
            assertEquals(version.group(1), qmp.qemuVersion());
            JsonNode blocks = qmp.execute("query-block", null, TIMEOUT);
            assertEquals(1, blocks.size(), blocks.toString());
            JsonNode drive = blocks.get(0);
            assertEquals("drive0", drive.path("device").asText(), drive.toString());
            assertEquals(image.toString(), drive.path("inserted").path("file").asText(), drive.toString());
            assertEquals("qcow2", drive.path("inserted").path("drv").asText(), drive.toString());
            // -drive gives the qcow2 node a generated name
            assertTrue(drive.path("inserted").path("node-name").asText().startsWith("#block"), drive.toString());
        }
    }

    @Test
    void humanMonitorCommandWritesThroughQemusBlockLayer() throws Exception {
        try (QmpClient qmp = QmpClient.connect(qmpSocket, TIMEOUT)) {
            // QEMU 7.2 prints qemu-io's output on its standard output: the command returns ""
            assertEquals("", hmp(qmp, "qemu-io drive0 \"write -P 0x5a 1M 64k\"").asText());
            assertEquals("", hmp(qmp, "qemu-io drive0 flush").asText());
        }
        Processes.Output read = Qemu.run(List.of("qemu-io", "-U", "-r", "-f", "qcow2", "-c", "read -P 0x5a 1M 64k",
                image.toString()));
        assertTrue(read.stdout().contains("read 65536/65536 bytes at offset 1048576")
                && !read.stdout().contains("Pattern verification failed"), read.stdout() + read.stderr());
    }

    @Test
    void unknownCommandIsCommandNotFoundAndTheSessionGoesOn() throws Exception {
        try (QmpClient qmp = QmpClient.connect(qmpSocket, TIMEOUT)) {
            QmpErrorException e = assertThrows(QmpErrorException.class, () -> qmp.execute("no-such-command", null,
                    TIMEOUT));
            assertEquals("CommandNotFound", e.errorClass());
            assertEquals("The command no-such-command has not been found", e.description());
            assertTrue(qmp.execute("query-version", null, TIMEOUT).has("qemu"));
        }
    }

    @Test
    void internalSnapshotCommandsAndQemusAnswers() throws Exception {
        try (QmpClient qmp = QmpClient.connect(qmpSocket, TIMEOUT)) {
            assertEquals(JSON.createObjectNode(), qmp.execute("blockdev-snapshot-internal-sync",
                    args("device", "drive0", "name", "qmp-snap"), TIMEOUT));
            List<Qemu.Listed> listed = Qemu.snapshotsWhileHeld(image);
            String id = listed.stream().filter(s -> s.name().equals("qmp-snap")).map(Qemu.Listed::id).findFirst()
                    .orElseThrow(() -> new AssertionError("qemu-img info -U lists no qmp-snap: " + listed));

            assertError(qmp, "blockdev-snapshot-internal-sync", args("device", "drive0", "name", "qmp-snap"),
                    "GenericError", "Snapshot with name 'qmp-snap' already exists on device 'drive0'");
            assertError(qmp, "blockdev-snapshot-internal-sync", args("device", "drive0", "name", ""),
                    "GenericError", "Name is empty");
            assertError(qmp, "blockdev-snapshot-internal-sync", args("device", "nodev", "name", "x"),
                    "GenericError", "Cannot find device='nodev' nor node-name='nodev'");
            assertError(qmp, "blockdev-snapshot-delete-internal-sync", args("device", "drive0", "name", "nope"),
                    "GenericError", "Snapshot with id 'null' and name 'nope' does not exist on device 'drive0'");
            assertError(qmp, "blockdev-snapshot-delete-internal-sync", args("device", "drive0", "id", "99"),
                    "GenericError", "Snapshot with id '99' and name 'null' does not exist on device 'drive0'");
            assertError(qmp, "blockdev-snapshot-delete-internal-sync",
                    args("device", "drive0", "id", id, "name", "other"),
                    "GenericError", "Snapshot with id '" + id + "' and name 'other' does not exist on device 'drive0'");
            assertError(qmp, "blockdev-snapshot-delete-internal-sync", args("device", "drive0"),
                    "GenericError", "Name or id must be provided");

            // success: the deleted snapshot's SnapshotInfo
            JsonNode deleted = qmp.execute("blockdev-snapshot-delete-internal-sync",
                    args("device", "drive0", "name", "qmp-snap"), TIMEOUT);
            assertEquals(id, deleted.path("id").asText(), deleted.toString());
            assertEquals("qmp-snap", deleted.path("name").asText(), deleted.toString());
            assertEquals(0, deleted.path("vm-state-size").asLong(-1), deleted.toString());
            for (String field : new String[] {"date-sec", "date-nsec", "vm-clock-sec", "vm-clock-nsec"}) {
                assertTrue(deleted.path(field).canConvertToLong(), field + " in " + deleted);
            }
            assertFalse(Qemu.snapshotsWhileHeld(image).stream().anyMatch(s -> s.name().equals("qmp-snap")));
        }
    }

    private static void assertError(QmpClient qmp, String command, ObjectNode arguments, String errorClass,
            String description) {
        QmpErrorException e = assertThrows(QmpErrorException.class, () -> qmp.execute(command, arguments, TIMEOUT),
                command + " " + arguments);
        assertEquals(errorClass, e.errorClass(), command + " " + arguments);
        assertEquals(description, e.description(), command + " " + arguments);
    }

    @Test
    void eventsAreSkipped() throws Exception {
        try (QmpClient qmp = QmpClient.connect(qmpSocket, TIMEOUT)) {
            // each sends an event (STOP, RESUME) next to its reply
            assertEquals(JSON.createObjectNode(), qmp.execute("stop", null, TIMEOUT));
            assertFalse(qmp.execute("query-status", null, TIMEOUT).path("running").asBoolean(true));
            assertEquals(JSON.createObjectNode(), qmp.execute("cont", null, TIMEOUT));
            assertTrue(qmp.execute("query-status", null, TIMEOUT).path("running").asBoolean(false));
        }
    }

    @Test
    void aSecondClientIsBusyUntilTheFirstHasGone() throws Exception {
        try (QmpClient first = QmpClient.connect(qmpSocket, TIMEOUT)) {
            long start = System.nanoTime();
            QmpBusyException e = assertThrows(QmpBusyException.class,
                    () -> QmpClient.connect(qmpSocket, Duration.ofSeconds(1)));
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(took >= 950 && took < 5000, took + " ms");
            assertEquals("QMP monitor " + qmpSocket + " did not greet within 1 s: a monitor serves one client at a"
                    + " time, and another one holds it (libvirt, a second tool), or its QEMU hangs", e.getMessage());
            assertTrue(first.execute("query-status", null, TIMEOUT).has("status"));
        }
        try (QmpClient next = QmpClient.connect(qmpSocket, Duration.ofSeconds(5))) {
            assertTrue(next.execute("query-status", null, TIMEOUT).has("status"));
        }
    }

    @Test
    void aPrettyMonitor() throws Exception {
        try (QmpClient qmp = QmpClient.connect(dir.resolve("pretty.sock"), TIMEOUT)) {
            assertEquals("drive0", qmp.execute("query-block", null, TIMEOUT).path(0).path("device").asText());
        }
    }

    @Test
    void aHumanMonitorIsNoQmp() {
        Path hmp = dir.resolve("hmp.sock");
        QmpException e = assertThrows(QmpException.class, () -> QmpClient.connect(hmp, TIMEOUT));
        assertFalse(e instanceof QmpBusyException);
        assertTrue(e.getMessage().startsWith("QMP monitor " + hmp + " is not a QMP monitor: it sent \"QEMU "),
                e.getMessage());
    }

    @Test
    void qemuQuittingEndsTheSession() throws Exception {
        Path img = Qemu.create(dir.resolve("quit.qcow2"), "1M", null);
        Path socket = dir.resolve("quit.sock");
        try (QemuVm quitting = QemuVm.on(img).args("-qmp", "unix:" + socket + ",server=on,wait=off").start();
                QmpClient qmp = QmpClient.connect(socket, TIMEOUT)) {
            // QEMU replies to quit before it closes the connection
            assertEquals(JSON.createObjectNode(), qmp.execute("quit", null, TIMEOUT));
            QmpException e = assertThrows(QmpException.class, () -> qmp.execute("query-status", null, TIMEOUT));
            assertFalse(e instanceof QmpTimeoutException, e.toString());
            // it closes before or after query-status arrives, with it unread or not: EPIPE, ECONNRESET, EOF
            assertTrue(e.getMessage().startsWith("QMP monitor " + socket + " closed the connection ")
                    && e.getMessage().contains("query-status"), e.getMessage());
        }
    }

    /**
     * An image attached with {@code -blockdev} (a file node f0 under a qcow2 node q0) and a guest
     * device on q0: {@code query-block} lists the device's anonymous backend with q0, not a drive
     * name; the snapshot commands take the qcow2 node's name as {@code device}, refuse the file node
     * (not a root) and know no {@code drive0}.
     */
    @Test
    void blockdevNodesAndTheDeviceTheSnapshotCommandsTake() throws Exception {
        Path img = Qemu.create(dir.resolve("blockdev.qcow2"), "1M", null);
        Path socket = dir.resolve("blockdev.sock");
        try (QemuVm nodes = QemuVm.on(img).block("-blockdev",
                "driver=file,node-name=f0,filename=" + img.toString().replace(",", ",,"),
                "-blockdev", "driver=qcow2,node-name=q0,file=f0", "-device", "virtio-blk-pci,drive=q0,id=vd0")
                .args("-qmp", "unix:" + socket + ",server=on,wait=off").start();
                QmpClient qmp = QmpClient.connect(socket, TIMEOUT)) {
            JsonNode blocks = qmp.execute("query-block", null, TIMEOUT);
            assertEquals(1, blocks.size(), blocks.toString());
            assertEquals("", blocks.get(0).path("device").asText("absent"), blocks.toString());
            assertEquals("/machine/peripheral/vd0/virtio-backend", blocks.get(0).path("qdev").asText(), blocks.toString());
            assertEquals("q0", blocks.get(0).path("inserted").path("node-name").asText(), blocks.toString());
            assertEquals(img.toString(), blocks.get(0).path("inserted").path("file").asText(), blocks.toString());

            JsonNode named = qmp.execute("query-named-block-nodes", JSON.createObjectNode().put("flat", true), TIMEOUT);
            assertEquals(2, named.size(), named.toString());
            for (JsonNode node : named) {
                assertEquals(img.toString(), node.path("file").asText(), node.toString());
                assertEquals(node.path("node-name").asText().equals("q0") ? "qcow2" : "file", node.path("drv").asText(),
                        node.toString());
            }

            assertEquals(JSON.createObjectNode(), qmp.execute("blockdev-snapshot-internal-sync",
                    args("device", "q0", "name", "on-q0"), TIMEOUT));
            assertError(qmp, "blockdev-snapshot-internal-sync", args("device", "f0", "name", "x"),
                    "GenericError", "Need a root block node");
            assertError(qmp, "blockdev-snapshot-internal-sync", args("device", "vd0", "name", "x"),
                    "GenericError", "Cannot find device='vd0' nor node-name='vd0'");
            assertError(qmp, "blockdev-snapshot-internal-sync", args("device", "drive0", "name", "x"),
                    "GenericError", "Cannot find device='drive0' nor node-name='drive0'");
            assertEquals(List.of("on-q0"), Qemu.snapshotsWhileHeld(img).stream().map(Qemu.Listed::name).toList());
            assertEquals("on-q0", qmp.execute("blockdev-snapshot-delete-internal-sync",
                    args("device", "q0", "name", "on-q0"), TIMEOUT).path("name").asText());
        }
    }

    /** With {@code -drive}, the snapshot commands take the qcow2 node's generated name as well as drive0. */
    @Test
    void driveNodeNamesToo() throws Exception {
        try (QmpClient qmp = QmpClient.connect(qmpSocket, TIMEOUT)) {
            String node = qmp.execute("query-block", null, TIMEOUT).path(0).path("inserted").path("node-name").asText();
            assertEquals(JSON.createObjectNode(), qmp.execute("blockdev-snapshot-internal-sync",
                    args("device", node, "name", "by-node"), TIMEOUT));
            assertEquals("by-node", qmp.execute("blockdev-snapshot-delete-internal-sync",
                    args("device", "drive0", "name", "by-node"), TIMEOUT).path("name").asText());
        }
    }
}
