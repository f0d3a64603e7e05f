package io.qsnapfs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;

/** The mount's log lines: fixed-width UTC times with milliseconds, one line per event. */
class RequestLogTest {
    private static List<String> linesAt(String... instantsAndMessages) {
        List<String> echoed = new ArrayList<>();
        for (int i = 0; i < instantsAndMessages.length; i += 2) {
            Clock clock = Clock.fixed(Instant.parse(instantsAndMessages[i]), ZoneId.of("Asia/Kolkata"));
            new RequestLog(echoed::add, clock).add(instantsAndMessages[i + 1]);
        }
        return echoed;
    }

    @Test
    void timesAreUtcWithMillisecondsAlwaysPrinted() {
        TimeZone before = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone("America/Los_Angeles"));
        try {
            assertEquals(List.of(
                    "2026-11-22T20:15:53.200Z a",
                    "2026-11-22T20:15:53.000Z b",
                    "2026-11-22T20:15:53.007Z c",
                    "2026-01-02T03:04:05.999Z d"),
                    linesAt("2026-11-22T20:15:53.2Z", "a", "2026-11-22T20:15:53Z", "b",
                            "2026-11-22T20:15:53.007891Z", "c", "2026-01-02T03:04:05.999999999Z", "d"));
        } finally {
            TimeZone.setDefault(before);
        }
    }

    @Test
    void theSystemClockGivesTheSameWidth() {
        List<String> echoed = new ArrayList<>();
        RequestLog log = new RequestLog(echoed::add);
        for (int i = 0; i < 50; i++) {
            log.add("x");
        }
        for (String line : echoed) {
            assertEquals(26, line.length(), line);
            assertEquals(true, line.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z x"), line);
        }
    }

    @Test
    void everyEventIsOneLine() {
        List<String> echoed = linesAt("2026-11-22T20:15:53.2Z",
                "refresh failed: java.io.IOException: two\nlines\r and \u001b[31mcolour\u001b[0m, tab\there, kept \\x41");
        assertEquals(List.of("2026-11-22T20:15:53.200Z refresh failed: java.io.IOException: two\\x0alines\\x0d and "
                + "\\x1b[31mcolour\\x1b[0m, tab\\x09here, kept \\x41"), echoed);
    }

    @Test
    void controlLogHoldsTheSameLines() {
        List<String> echoed = new ArrayList<>();
        RequestLog log = new RequestLog(echoed::add, Clock.fixed(Instant.parse("2026-11-22T14:14:04.6Z"), ZoneId.of("UTC")));
        log.add("create web01.qcow2 \"nightly\": ok, id 2");
        log.add("bad\nname");
        assertEquals("2026-11-22T14:14:04.600Z create web01.qcow2 \"nightly\": ok, id 2\n"
                + "2026-11-22T14:14:04.600Z bad\\x0aname\n", new String(log.text(), StandardCharsets.UTF_8));
        assertEquals(2, echoed.size());
    }
}
