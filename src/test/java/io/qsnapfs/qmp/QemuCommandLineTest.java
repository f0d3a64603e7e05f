package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link QemuCommandLine} finds the QMP sockets QEMU listens on in a command line: {@code -qmp} and
 * {@code -qmp-pretty} in the legacy syntax, {@code -qmp chardev:} and {@code -mon mode=control} on
 * socket chardevs defined anywhere; {@code --} options; {@code ,,} escapes. Human monitors, client
 * sockets, TCP, abstract and descriptor sockets are left out. Every form here was checked against
 * QEMU 7.2 (FileHolderTest starts real QEMUs with the main ones).
 */
class QemuCommandLineTest {
    private static List<String> sockets(String... args) {
        List<String> argv = new ArrayList<>(List.of("qemu-system-x86_64", "-nodefaults"));
        argv.addAll(List.of(args));
        return QemuCommandLine.qmpSockets(argv);
    }

    @Test
    void legacyQmpOptions() {
        assertEquals(List.of("/a.sock"), sockets("-qmp", "unix:/a.sock,server=on,wait=off"));
        assertEquals(List.of("/a.sock"), sockets("--qmp", "unix:/a.sock,server,nowait"));
        assertEquals(List.of("/a.sock"), sockets("-qmp", "unix:path=/a.sock,server=on"));
        assertEquals(List.of("/p.sock"), sockets("-qmp-pretty", "unix:/p.sock,server=on,wait=off"));
        assertEquals(List.of("/m.sock"), sockets("-qmp", "mon:unix:/m.sock,server=on,wait=off"));
        assertEquals(List.of("relative.sock"), sockets("-qmp", "unix:relative.sock,server=on"));
    }

    @Test
    void socketsQemuDoesNotListenOnOrThatHaveNoPath() {
        assertEquals(List.of(), sockets("-qmp", "unix:/client.sock"));
        assertEquals(List.of(), sockets("-qmp", "unix:/client.sock,server=off"));
        assertEquals(List.of(), sockets("-qmp", "unix:/a.sock,server=on,wait=off,server=off"));
        assertEquals(List.of(), sockets("-qmp", "tcp:localhost:4444,server=on,wait=off"));
        assertEquals(List.of(), sockets("-qmp", "stdio"));
        assertEquals(List.of(), sockets("-qmp", "unix:/abstract,server=on,abstract=on"));
        assertEquals(List.of(), sockets("-chardev", "socket,id=m,fd=25,server=on,wait=off",
                "-mon", "chardev=m,mode=control"));
        assertEquals(List.of(), sockets("-chardev", "socket,id=m,host=localhost,port=4444,server=on",
                "-mon", "chardev=m,mode=control"));
        assertEquals(List.of(), sockets("-chardev", "socket,id=m,path=/client.sock",
                "-mon", "chardev=m,mode=control"));
        assertEquals(List.of(), sockets("-chardev", "pipe,id=m,path=/fifo", "-mon", "chardev=m,mode=control"));
    }

    @Test
    void controlMonitorsOnChardevs() {
        assertEquals(List.of("/m.sock"), sockets("-chardev", "socket,id=m,path=/m.sock,server=on,wait=off",
                "-mon", "chardev=m,mode=control"));
        // the chardev after the monitor, elements in another order, the backend named, the chardev implied
        assertEquals(List.of("/m.sock"), sockets("-mon", "m,mode=control,pretty=on",
                "-chardev", "path=/m.sock,id=m,server=on,wait=off,backend=socket"));
        assertEquals(List.of("/m.sock"), sockets("-chardev", "socket,id=m,path=/m.sock,server=yes,wait=no",
                "-qmp", "chardev:m"));
        // a monitor on a chardev nobody defined: QEMU would not start
        assertEquals(List.of(), sockets("-mon", "chardev=nope,mode=control"));
    }

    @Test
    void humanMonitorsAreNoQmp() {
        String chardev = "socket,id=m,path=/m.sock,server=on,wait=off";
        assertEquals(List.of(), sockets("-chardev", chardev, "-mon", "chardev=m"));
        assertEquals(List.of(), sockets("-chardev", chardev, "-mon", "chardev=m,mode=readline"));
        assertEquals(List.of(), sockets("-chardev", chardev, "-mon", "chardev=m,mode=control,mode=readline"));
        assertEquals(List.of(), sockets("-monitor", "unix:/h.sock,server=on,wait=off"));
        assertEquals(List.of(), sockets("-monitor", "chardev:m", "-chardev", chardev));
    }

    @Test
    void doubledCommasInPaths() {
        assertEquals(List.of("/tmp/a,b.sock"), sockets("-qmp", "unix:/tmp/a,,b.sock,server=on"));
        assertEquals(List.of("/x,y.sock"), sockets("-chardev", "socket,id=m,,n,path=/x,,y.sock,server=on",
                "-mon", "chardev=m,,n,mode=control"));
    }

    @Test
    void severalMonitorsInCommandLineOrder() {
        assertEquals(List.of("/one.sock", "/two.sock", "/three.sock"), sockets(
                "-chardev", "socket,id=three,path=/three.sock,server=on",
                "-qmp", "unix:/one.sock,server=on",
                "-monitor", "unix:/hmp.sock,server=on",
                "-chardev", "socket,id=two,path=/two.sock,server=on",
                "-mon", "chardev=two,mode=control",
                "-qmp-pretty", "chardev:three"));
    }

    @Test
    void optionValuesAndImagesAreNotOptions() {
        // -monitor takes "-qmp" as its value; the socket spec after it is then a disk image
        assertEquals(List.of(), sockets("-monitor", "-qmp", "unix:/a.sock,server=on"));
        // a disk image named like a value, options after it still count
        assertEquals(List.of("/a.sock"), sockets("unix:/b.sock,server=on", "-qmp", "unix:/a.sock,server=on"));
        // the program's own name is no option
        assertEquals(List.of(), QemuCommandLine.qmpSockets(List.of("-qmp", "unix:/a.sock,server=on")));
        // an option without its value at the end
        assertEquals(List.of(), sockets("-qmp"));
        assertEquals(List.of(), sockets());
    }
}
