package io.qsnapfs.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** JOURNAL_STREAM names stderr by DEV:INO; the server's log follows it (native-tests/mount-fstab.sh runs it). */
class JournalStreamTest {
    @Test
    void devAndInodeInDecimal() {
        assertTrue(JournalStream.names("25:1234567", 25, 1234567));
        assertFalse(JournalStream.names("25:1234567", 25, 1234568));
        assertFalse(JournalStream.names("26:1234567", 25, 1234567));
        assertFalse(JournalStream.names("0x19:1234567", 25, 1234567));
        assertFalse(JournalStream.names("", 25, 1234567));
        assertTrue(JournalStream.names("18446744073709551615:1", -1, 1), "st_dev is unsigned");
    }
}
