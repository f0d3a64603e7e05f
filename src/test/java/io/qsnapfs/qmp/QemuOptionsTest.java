package io.qsnapfs.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link QemuOptions} reads key=value option values as QEMU does: the implied first key, flags
 * and their {@code no} form, {@code ,,} as a comma in values, the last value of a key but the
 * first id, and QEMU's words for booleans.
 */
class QemuOptionsTest {
    @Test
    void impliedFirstKeyOnlyForAFirstElementWithoutEquals() {
        QemuOptions o = QemuOptions.parse("socket,id=m,path=/run/m.sock", "backend");
        assertEquals("socket", o.get("backend"));
        assertEquals("m", o.get("id"));
        assertEquals("/run/m.sock", o.get("path"));

        QemuOptions explicit = QemuOptions.parse("path=/run/m.sock,backend=socket", "backend");
        assertEquals("socket", explicit.get("backend"));
        // not first: a flag, as QEMU reads it
        QemuOptions late = QemuOptions.parse("id=m,socket", "backend");
        assertNull(late.get("backend"));
        assertEquals("on", late.get("socket"));
    }

    @Test
    void flagsAndTheirNoForm() {
        QemuOptions o = QemuOptions.parse("/a.sock,server,nowait", "path");
        assertEquals("/a.sock", o.get("path"));
        assertTrue(o.isOn("server", false));
        assertFalse(o.isOn("wait", true));
        assertFalse(QemuOptions.parse("/a.sock,noserver", "path").isOn("server", true));
        // without an implied key the first element is a flag too
        assertTrue(QemuOptions.parse("server,path=/a", null).isOn("server", false));
    }

    @Test
    void doubledCommasAreCommasInValues() {
        assertEquals("/tmp/a,b,,c", QemuOptions.parse("/tmp/a,,b,,,,c,server=on", "path").get("path"));
        QemuOptions o = QemuOptions.parse("socket,path=/x,,y.sock,id=m,,n", "backend");
        assertEquals("/x,y.sock", o.get("path"));
        assertEquals("m,n", o.get("id"));
        assertEquals("a=b", QemuOptions.parse("path=a=b", null).get("path"));
    }

    @Test
    void lastValueWinsButTheFirstId() {
        QemuOptions o = QemuOptions.parse("socket,id=one,server=on,server=off,id=two", "backend");
        assertFalse(o.isOn("server", true));
        assertEquals("one", o.get("id"));
    }

    @Test
    void booleansInQemusWords() {
        for (String on : new String[] {"on", "yes", "true", "y"}) {
            assertTrue(QemuOptions.parse("server=" + on, null).isOn("server", false), on);
        }
        for (String off : new String[] {"off", "no", "false", "n", "maybe", ""}) {
            assertFalse(QemuOptions.parse("server=" + off, null).isOn("server", true), off);
        }
        assertTrue(QemuOptions.parse("", null).isOn("server", true));
    }
}
