package io.qsnapfs.engine.check;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.engine.ImageFile;
import io.qsnapfs.format.QcowHeader;
import io.qsnapfs.format.SnapshotEntry;
import java.util.List;

/**
 * The bytes that deleting a snapshot would free: its exclusive clusters, the host clusters all of
 * whose references (their whole stored refcount) come from the snapshot's own tables. Those
 * references are what {@code qemu-img snapshot -d} takes away: one for each cluster of its L1
 * table, and, counted as the check counts them ({@link ConsistencyCheck#countSnapshot}, one per
 * pointer), the L2 table of each L1 entry and in each L2 table every data cluster, allocated zero
 * cluster and host cluster a compressed entry touches. The VM state lives in the same tree, after
 * the disk area, so its clusters are counted too. A cluster is exclusive when this count equals
 * its stored refcount.
 *
 * <p>The snapshot table itself is shared by all snapshots and is not counted, though deleting a
 * snapshot rewrites it (QEMU writes a new table and frees the old one, which may change its size
 * by a cluster or so).
 *
 * <p>Memory stays bounded on any image: the references are counted per cluster in a {@link
 * ReferenceWindow} of {@link #WINDOW} longs (16 MiB; a cluster named any number of times takes one
 * (cluster, count) pair); a snapshot that names more distinct clusters than that holds is walked
 * again for each further range of clusters. Stored refcounts are
 * looked up once per distinct cluster, in ascending order, through {@link Refcounts}' small cache.
 *
 * <p>Made for one state of the image: {@link #of} reads its header, snapshot table and refcount
 * table; a snapshot is then found in that table by its entry. On an image that a running VM writes
 * meanwhile the figure is one of a moment, like any other reading of a live image's metadata.
 */
public final class ExclusiveClusters {
    /** References counted in memory at once (8 bytes each). */
    static final int WINDOW = 2 << 20;

    private final ImageFile file;
    private final QcowHeader header;
    private final long fileLength;
    private final List<SnapshotEntry> snapshots;
    private final Refcounts refcounts;
    private final int window;

    private ExclusiveClusters(ImageFile file, int window) {
        this.file = file;
        this.fileLength = file.length();
        this.header = file.readHeader();
        file.checkTablePlacement(header, fileLength);
        this.snapshots = file.readSnapshotTable(header, fileLength);
        this.refcounts = Refcounts.load(file, header);
        this.window = window;
    }

    /**
     * Reads what counting needs from {@code file} now: its header, snapshot table and refcount
     * table. The file stays the caller's.
     *
     * @throws ImageException CORRUPT or UNSUPPORTED for an image the reader refuses; IO
     */
    public static ExclusiveClusters of(ImageFile file) {
        return new ExclusiveClusters(file, WINDOW);
    }

    /** {@link #of} counting at most {@code window} references at once (tests make it tiny). */
    static ExclusiveClusters of(ImageFile file, int window) {
        return new ExclusiveClusters(file, window);
    }

    /** The snapshot table as read by {@link #of}. */
    public List<SnapshotEntry> snapshots() {
        return snapshots;
    }

    /**
     * The bytes deleting {@code snapshot} would free: its exclusive clusters times the cluster size.
     *
     * @param snapshot an entry of the snapshot table, as any reader of this image has it
     * @throws ImageException NOT_FOUND when the table read by {@link #of} has no such entry (the
     *         image changed); CORRUPT when the snapshot's tables are malformed, naming what the
     *         check finds; IO
     */
    public long bytes(SnapshotEntry snapshot) {
        return clusters(snapshot) << header.clusterBits();
    }

    /** The number of exclusive clusters of {@code snapshot}; see {@link #bytes}. */
    long clusters(SnapshotEntry snapshot) {
        if (!snapshots.contains(snapshot)) {
            throw ImageException.notFound(file.name(), describe(snapshot) + " is no longer in the snapshot table");
        }
        long exclusive = 0;
        long low = 0;
        while (true) {
            ReferenceWindow counted = new ReferenceWindow(low, window);
            List<String> findings = ConsistencyCheck.countSnapshot(file, header, fileLength, snapshot, counted);
            if (!findings.isEmpty()) {
                throw ImageException.corrupt(file.name(), "the tables of " + describe(snapshot) + " cannot be counted: "
                        + findings.get(0) + (findings.size() > 1 ? " (and " + (findings.size() - 1) + " more)" : "")
                        + "; run 'qsnapfs check'");
            }
            long[] found = {0};
            counted.counts((cluster, references) -> {
                if (refcounts.get(cluster) == references) {
                    found[0]++;
                }
            });
            exclusive += found[0];
            if (counted.high() == Long.MAX_VALUE) {
                return exclusive;
            }
            low = counted.high();
        }
    }

    private static String describe(SnapshotEntry s) {
        return "snapshot " + s.idString() + " ('" + s.nameString() + "')";
    }
}
