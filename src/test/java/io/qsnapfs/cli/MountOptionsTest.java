package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** -o as mount(8), mount.fuse, fstab and systemd hand it over: mapped, passed to FUSE, ignored or refused. */
class MountOptionsTest {
    private static MountOptions parse(String commaSeparated) {
        return MountOptions.parse(List.of(commaSeparated.split(",", -1)));
    }

    @Test
    void whatMountFuseSendsForAnFstabLine() {
        // fstab: allow_other,nofail,_netdev,x-systemd.automount -> mount.fuse: rw,allow_other,dev,suid
        MountOptions o = parse("rw,allow_other,dev,suid");
        assertFalse(o.readOnly());
        assertEquals(List.of("allow_other"), o.fuse());
    }

    @Test
    void roRefusesRequestsAndTheLastOfRoAndRwWins() {
        assertTrue(parse("ro,dev,suid").readOnly());
        assertEquals(List.of(), parse("ro,dev,suid").fuse(), "ro never reaches FUSE: it would refuse every request");
        assertFalse(parse("ro,rw").readOnly());
        assertTrue(parse("rw,ro").readOnly());
        assertFalse(MountOptions.parse(List.of()).readOnly());
    }

    @Test
    void optionsForMountMountFuseAndSystemdAreIgnored() {
        MountOptions o = parse("defaults,nofail,_netdev,noauto,auto,x-systemd.automount,x-systemd.idle-timeout=60,"
                + "x-systemd.requires=network.target,x-foo,comment=systemd.automount,dev,suid,exec,user,users,nouser,,");
        assertFalse(o.readOnly());
        assertEquals(List.of(), o.fuse());
    }

    @Test
    void fuseOptionsPassInOrder() {
        MountOptions o = parse("noexec,allow_other,entry_timeout=60,attr_timeout=0.5,negative_timeout=0,nosuid,nodev,"
                + "noatime,allow_root");
        assertEquals(List.of("noexec", "allow_other", "entry_timeout=60", "attr_timeout=0.5", "negative_timeout=0",
                "nosuid", "nodev", "noatime", "allow_root"), o.fuse());
    }

    @Test
    void unknownOptionsAreRefusedByName() {
        IllegalArgumentException one = assertThrows(IllegalArgumentException.class, () -> parse("allow_other,frob"));
        assertTrue(one.getMessage().startsWith("unknown mount option 'frob'; qsnapfs takes ro, rw, allow_other, "),
                one.getMessage());
        assertTrue(one.getMessage().contains("ignores _netdev, auto, defaults, "), one.getMessage());
        IllegalArgumentException two = assertThrows(IllegalArgumentException.class,
                () -> parse("direct_io,rw,umask=0,default_permissions"));
        assertTrue(two.getMessage().startsWith("unknown mount options 'direct_io', 'umask=0', 'default_permissions';"),
                two.getMessage());
        for (String bad : new String[] {"allow_other=1", "entry_timeout", "nofail=1", "ro=1", "RO", "comments=x"}) {
            assertThrows(IllegalArgumentException.class, () -> parse(bad), bad);
        }
    }

    @Test
    void timeoutsMustBeSeconds() {
        for (String bad : new String[] {"entry_timeout=", "entry_timeout=-1", "attr_timeout=1e3", "attr_timeout=x",
            "negative_timeout=1,5"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(bad), bad);
            assertTrue(e.getMessage().contains("not a number of seconds") || e.getMessage().contains("unknown"),
                    e.getMessage());
        }
        assertEquals("mount option entry_timeout=x: not a number of seconds (e.g. entry_timeout=60 or "
                + "entry_timeout=0.5)", assertThrows(IllegalArgumentException.class,
                        () -> parse("entry_timeout=x")).getMessage());
    }

    @Test
    void qmpDirectoryAndTimeoutGoToTheControlRequestsAndToTheServer() {
        MountOptions o = parse("rw,qmp=/run/qsnapfs/qmp/,qmp_timeout=2.5,allow_other");
        assertEquals(java.nio.file.Path.of("/run/qsnapfs/qmp"), o.qmpDir());
        assertEquals("2.5", o.qmpTimeout());
        assertEquals(List.of("allow_other"), o.fuse(), "neither is libfuse's");
        assertEquals(java.time.Duration.ofMillis(2500), o.qmpRoutes().timeout());
        assertEquals(List.of("allow_other", "qmp=/run/qsnapfs/qmp", "qmp_timeout=2.5"), o.serverOptions());
        assertEquals(io.qsnapfs.engine.write.QemuHandoff.DEFAULT_TIMEOUT, parse("rw").qmpRoutes().timeout());
        assertEquals(List.of(), parse("rw").serverOptions());
    }

    @Test
    void badQmpOptionsAreRefused() {
        for (String bad : new String[] {"qmp=", "qmp", "qmp_timeout=0", "qmp_timeout=-1", "qmp_timeout=soon",
            "qmp_timeout=3601"}) {
            assertThrows(IllegalArgumentException.class, () -> parse(bad), bad);
        }
    }
}
