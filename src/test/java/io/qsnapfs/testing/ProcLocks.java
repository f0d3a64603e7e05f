package io.qsnapfs.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The open-file-description locks the kernel lists in {@code /proc/locks} for one file: what QEMU
 * (or we) hold on an image, seen from outside, without asking the holder.
 */
public final class ProcLocks {
    private ProcLocks() {
    }

    /** One line of {@code /proc/locks}: a lock of one open file description on bytes {@code start..end}. */
    public record Entry(String type, long start, long end) {
    }

    /** The OFD locks on {@code file}, one entry per line (the kernel merges adjacent bytes of one description). */
    public static List<Entry> of(Path file) {
        try {
            long dev = (Long) Files.getAttribute(file, "unix:dev");
            long ino = (Long) Files.getAttribute(file, "unix:ino");
            // st_dev as the kernel prints it in /proc/locks: "%02x:%02x" major, minor.
            long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
            long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
            List<Entry> out = new ArrayList<>();
            for (String line : Files.readAllLines(Path.of("/proc/locks"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 8 || f[1].equals("->") || !f[1].equals("OFDLCK")) {
                    continue;
                }
                String[] id = f[5].split(":");
                if (Long.parseLong(id[0], 16) == major && Long.parseLong(id[1], 16) == minor
                        && Long.parseLong(id[2]) == ino) {
                    out.add(new Entry(f[3], Long.parseLong(f[6]), f[7].equals("EOF") ? Long.MAX_VALUE : Long.parseLong(f[7])));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every byte below 1000 of {@code file} that some description holds an OFD lock on. */
    public static SortedSet<Long> bytes(Path file) {
        SortedSet<Long> bytes = new TreeSet<>();
        for (Entry e : of(file)) {
            for (long b = e.start(); b <= Math.min(e.end(), 999); b++) {
                bytes.add(b);
            }
        }
        return bytes;
    }
}
