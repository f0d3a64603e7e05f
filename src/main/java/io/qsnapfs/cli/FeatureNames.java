package io.qsnapfs.cli;

import io.qsnapfs.format.QcowHeader;
import java.util.ArrayList;
import java.util.List;

/**
 * Names of the header's feature bits: the image's own feature name table when it has one (QEMU
 * writes it), else the names the qcow2 specification gives the bits we know, else "bit N".
 */
final class FeatureNames {
    /** Feature kinds as numbered in the feature name table. */
    static final int INCOMPATIBLE = 0;
    static final int COMPATIBLE = 1;
    static final int AUTOCLEAR = 2;

    private FeatureNames() {
    }

    /** One set bit and its name. */
    record Bit(int bit, String name) {
    }

    /** The set bits of {@code value}, lowest first, each with its name. */
    static List<Bit> of(QcowHeader header, int kind, long value) {
        List<Bit> bits = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((value & (1L << bit)) != 0) {
                String name = header.featureName(kind, bit);
                bits.add(new Bit(bit, name != null && !name.isEmpty() ? name : known(kind, bit)));
            }
        }
        return bits;
    }

    private static String known(int kind, int bit) {
        String name = switch (kind) {
            case INCOMPATIBLE -> switch (bit) {
                case 0 -> "dirty bit";
                case 1 -> "corrupt bit";
                case 2 -> "external data file";
                case 3 -> "compression type";
                case 4 -> "extended L2 entries";
                default -> null;
            };
            case COMPATIBLE -> bit == 0 ? "lazy refcounts" : null;
            case AUTOCLEAR -> switch (bit) {
                case 0 -> "bitmaps";
                case 1 -> "raw external data";
                default -> null;
            };
            default -> null;
        };
        return name != null ? name : "bit " + bit;
    }
}
