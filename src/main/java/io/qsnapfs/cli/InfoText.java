package io.qsnapfs.cli;

import io.qsnapfs.format.Hex;
import io.qsnapfs.format.SnapshotEntry;
import java.io.PrintStream;
import java.time.ZoneId;
import java.util.List;

/**
 * {@link ImageInfo} as text for people: one "label: value" line per fact, in the spirit of
 * {@code qemu-img info}, then the snapshot table exactly as {@code qemu-img} prints it.
 */
final class InfoText {
    private InfoText() {
    }

    static void write(PrintStream out, ImageInfo info, List<SnapshotEntry> entries, ZoneId zone) {
        out.print("image: " + info.file() + "\n");
        out.print("path: " + info.path() + "\n");
        out.print("file format: " + info.format() + "\n");
        out.print("version: " + info.version() + " (compat " + info.compat() + ")\n");
        out.print("virtual size: " + QemuSize.of(info.virtualSize()) + " (" + info.virtualSize() + " bytes)\n");
        out.print("file length: " + QemuSize.of(info.fileLength()) + " (" + info.fileLength() + " bytes)\n");
        out.print("cluster size: " + info.clusterSize() + " (cluster_bits " + info.clusterBits() + ")\n");
        out.print("refcount bits: " + info.refcountBits() + "\n");
        out.print("compression type: " + info.compressionType() + "\n");
        out.print("extended L2: " + yesNo(info.extendedL2()) + "\n");
        out.print("lazy refcounts: " + yesNo(info.lazyRefcounts()) + "\n");
        out.print("corrupt: " + yesNo(info.corrupt()) + "\n");
        out.print("dirty: " + yesNo(info.dirty()) + "\n");
        out.print("incompatible features: " + features(info.incompatibleFeatures()) + "\n");
        out.print("compatible features: " + features(info.compatibleFeatures()) + "\n");
        out.print("autoclear features: " + features(info.autoclearFeatures()) + "\n");
        if (info.backing() == null) {
            out.print("backing file: none\n");
        }
        String indent = "";
        for (ImageInfo.Backing b = info.backing(); b != null; b = b.backing()) {
            out.print(indent + "backing file: " + b.file() + " (actual path: " + b.path() + ")\n");
            out.print(indent + "backing file format: " + b.format()
                    + (b.formatInHeader() == null ? " (probed; the header does not say)" : "") + "\n");
            indent += "  ";
        }
        ImageInfo.DataFile data = info.dataFile();
        out.print("data file: " + (data == null ? "none" : data.file() + " (actual path: " + data.path() + ")") + "\n");
        if (info.headerExtensions().isEmpty()) {
            out.print("header extensions: none\n");
        } else {
            out.print("header extensions:\n");
            for (ImageInfo.Extension e : info.headerExtensions()) {
                out.print("    " + e.type() + " " + e.name() + ", " + e.length() + " bytes at offset " + e.offset()
                        + "\n");
            }
        }
        if (entries.isEmpty()) {
            out.print("snapshots: none\n");
        } else {
            out.print("Snapshot list:\n");
            SnapshotTableFormat.table(out, entries, zone);
        }
    }

    private static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }

    private static String features(ImageInfo.FeatureSet f) {
        StringBuilder s = new StringBuilder(Hex.of(f.value()));
        if (!f.bits().isEmpty()) {
            s.append(" (");
            for (int i = 0; i < f.bits().size(); i++) {
                s.append(i == 0 ? "" : ", ").append(f.bits().get(i).name());
            }
            s.append(')');
        }
        return s.toString();
    }
}
