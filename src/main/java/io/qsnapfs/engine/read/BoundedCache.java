package io.qsnapfs.engine.read;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * A thread-safe least-recently-used cache bounded by the total weight (bytes) of its values.
 * It is split into shards, each with its own lock, so that FUSE's many reader threads rarely
 * wait on each other. Values are computed outside the lock; two threads missing on the same key
 * may both compute it, and the second result wins, which is harmless for immutable table data.
 */
final class BoundedCache<K, V> {
    /** Computes a value on a miss. */
    @FunctionalInterface
    public interface Loader<K, V, E extends Exception> {
        V load(K key) throws E;
    }

    private final Shard<K, V>[] shards;
    private final ToIntFunction<V> weigher;

    @SuppressWarnings("unchecked")
    public BoundedCache(long maxWeight, int shardCount, ToIntFunction<V> weigher) {
        this.weigher = weigher;
        this.shards = new Shard[shardCount];
        for (int i = 0; i < shardCount; i++) {
            shards[i] = new Shard<>(Math.max(1, maxWeight / shardCount));
        }
    }

    private Shard<K, V> shard(K key) {
        int h = key.hashCode();
        h ^= h >>> 16;
        return shards[Math.floorMod(h * 0x9E3779B1, shards.length)];
    }

    public <E extends Exception> V get(K key, Loader<K, V, E> loader) throws E {
        Shard<K, V> shard = shard(key);
        V value = shard.get(key);
        if (value == null) {
            value = loader.load(key);
            shard.put(key, value, weigher.applyAsInt(value));
        }
        return value;
    }

    /** Total weight held now, for tests and diagnostics. */
    public long weight() {
        long sum = 0;
        for (Shard<K, V> s : shards) {
            sum += s.weight();
        }
        return sum;
    }

    private static final class Shard<K, V> {
        private final long maxWeight;
        private final LinkedHashMap<K, Weighted<V>> map = new LinkedHashMap<>(64, 0.75f, true);
        private long weight;

        Shard(long maxWeight) {
            this.maxWeight = maxWeight;
        }

        synchronized V get(K key) {
            Weighted<V> w = map.get(key);
            return w == null ? null : w.value;
        }

        synchronized void put(K key, V value, int valueWeight) {
            Weighted<V> old = map.put(key, new Weighted<>(value, valueWeight));
            if (old != null) {
                weight -= old.weight;
            }
            weight += valueWeight;
            var it = map.entrySet().iterator();
            while (weight > maxWeight && it.hasNext()) {
                Map.Entry<K, Weighted<V>> eldest = it.next();
                if (eldest.getKey().equals(key) && map.size() == 1) {
                    break; // keep a single oversized value rather than nothing
                }
                weight -= eldest.getValue().weight;
                it.remove();
            }
        }

        synchronized long weight() {
            return weight;
        }
    }

    private record Weighted<V>(V value, int weight) {
    }
}
