package io.qsnapfs.format;

/**
 * Packing of the entries of one refcount block. A refcount block is exactly one cluster and
 * holds the reference counts of {@code cluster_size * 8 / refcount_bits} consecutive host
 * clusters; refcount_bits = 1 &lt;&lt; refcount_order, with refcount_order 0..6 (header bytes 96-99;
 * version 2 images always use order 4, i.e. 16 bits).
 *
 * <pre>
 * refcount_bits >= 8: entry i occupies bytes [i * w, (i + 1) * w), w = refcount_bits / 8,
 *                     as a big-endian unsigned integer (8, 16, 32 or 64 bits).
 * refcount_bits  < 8: k = 8 / refcount_bits entries share a byte; entry i lives in byte i / k
 *                     at bit shift (i % k) * refcount_bits counted from the LEAST significant
 *                     bit (the spec: "bit 0 means the least significant bit in this context").
 *
 *   refcount_bits = 1, byte 0x1f:  entries 0..4 = 1, entries 5..7 = 0
 *   refcount_bits = 2, byte 0x1b:  entry 0 = 3, entry 1 = 2, entry 2 = 1, entry 3 = 0
 *   refcount_bits = 4, byte 0x21:  entry 0 = 1, entry 1 = 2
 * </pre>
 *
 * The largest storable refcount is 2^refcount_bits - 1; for 64-bit entries that is 2^64 - 1, so
 * 64-bit values are unsigned and must be compared with {@link Long#compareUnsigned}.
 */
public final class RefcountBlock {
    private RefcountBlock() {
    }

    /** Largest valid refcount_order (64-bit entries). */
    public static final int MAX_ORDER = 6;

    /** Entries in one refcount block: cluster_size * 8 / refcount_bits. */
    public static long entriesPerBlock(int clusterBits, int refcountOrder) {
        return 1L << blockBits(clusterBits, refcountOrder);
    }

    /** log2 of {@link #entriesPerBlock}: cluster_bits + 3 - refcount_order. */
    public static int blockBits(int clusterBits, int refcountOrder) {
        return clusterBits + 3 - refcountOrder;
    }

    /** The largest refcount an entry can hold (all ones; -1 stands for 2^64 - 1 at order 6). */
    public static long maxRefcount(int refcountOrder) {
        return refcountOrder == MAX_ORDER ? -1L : (1L << (1 << refcountOrder)) - 1;
    }

    /** Decodes entry {@code index} of a block (or of any byte array packed the same way). */
    public static long get(byte[] block, int refcountOrder, int index) {
        switch (refcountOrder) {
            case 0:
                return (block[index >>> 3] >>> (index & 7)) & 0x1;
            case 1:
                return (block[index >>> 2] >>> ((index & 3) << 1)) & 0x3;
            case 2:
                return (block[index >>> 1] >>> ((index & 1) << 2)) & 0xf;
            case 3:
                return block[index] & 0xffL;
            case 4: {
                int p = index << 1;
                return ((block[p] & 0xffL) << 8) | (block[p + 1] & 0xffL);
            }
            case 5: {
                int p = index << 2;
                return ((block[p] & 0xffL) << 24) | ((block[p + 1] & 0xffL) << 16)
                        | ((block[p + 2] & 0xffL) << 8) | (block[p + 3] & 0xffL);
            }
            case 6: {
                int p = index << 3;
                long v = 0;
                for (int i = 0; i < 8; i++) {
                    v = (v << 8) | (block[p + i] & 0xffL);
                }
                return v;
            }
            default:
                throw new IllegalArgumentException("refcount_order " + refcountOrder + " is outside 0..6");
        }
    }

    /**
     * Encodes {@code value} into entry {@code index}, leaving the neighbouring entries of a shared
     * byte untouched.
     *
     * @throws IllegalArgumentException when the value does not fit the entry width
     */
    public static void set(byte[] block, int refcountOrder, int index, long value) {
        if (refcountOrder < MAX_ORDER && Long.compareUnsigned(value, maxRefcount(refcountOrder)) > 0) {
            throw new IllegalArgumentException("refcount " + Long.toUnsignedString(value) + " does not fit in "
                    + (1 << refcountOrder) + " bits");
        }
        switch (refcountOrder) {
            case 0, 1, 2: {
                int bits = 1 << refcountOrder;
                int perByte = 8 / bits;
                int b = index / perByte;
                int shift = (index % perByte) * bits;
                int mask = ((1 << bits) - 1) << shift;
                block[b] = (byte) ((block[b] & ~mask) | (((int) value << shift) & mask));
                return;
            }
            case 3:
                block[index] = (byte) value;
                return;
            case 4, 5, 6: {
                int width = 1 << (refcountOrder - 3);
                int p = index * width;
                for (int i = width - 1; i >= 0; i--) {
                    block[p + i] = (byte) value;
                    value >>>= 8;
                }
                return;
            }
            default:
                throw new IllegalArgumentException("refcount_order " + refcountOrder + " is outside 0..6");
        }
    }
}
