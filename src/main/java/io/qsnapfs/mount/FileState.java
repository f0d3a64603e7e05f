package io.qsnapfs.mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;

/**
 * What {@code stat} says about a file, enough to tell cheaply whether it may have changed:
 * inode, size, modification and change times.
 */
record FileState(Object inode, long size, FileTime mtime, FileTime ctime) {
    static FileState of(Path path) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, "unix:ino,size,lastModifiedTime,ctime");
        return new FileState(a.get("ino"), (Long) a.get("size"), (FileTime) a.get("lastModifiedTime"),
                (FileTime) a.get("ctime"));
    }
}
