package io.qsnapfs.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * What a seeded test did to build its image, one line per command, kept for the failure message
 * so a failing seed can be rebuilt by hand.
 */
public final class Recipe {
    private final List<String> lines = new ArrayList<>();

    public void add(String line) {
        lines.add(line);
    }

    @Override
    public String toString() {
        return String.join("\n  ", lines);
    }
}
