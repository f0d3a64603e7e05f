package io.qsnapfs.fuse;

import io.qsnapfs.engine.ImageException;
import io.qsnapfs.mount.Attributes;
import io.qsnapfs.mount.MountTree;
import io.qsnapfs.mount.Node;
import io.qsnapfs.mount.OpenFile;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import jnr.ffi.Pointer;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The FUSE adapter. Each callback resolves its path, calls one {@link MountTree} method and turns
 * any failure into an errno in {@link Errno}; nothing else happens here. An exception must never
 * leave a callback (jnr-fuse would swallow it and the kernel could see zeros), hence
 * {@link #call}.
 *
 * <p>Callbacks run on the workers of {@link RequestLoop}, which know the request's opcode and node
 * id: {@link #getattr} uses them to learn directories' node ids for {@link NameInvalidator} and to
 * answer {@code fstat} of an open file whose name is gone, and requests in {@code control/} send the
 * names they made stale before they answer.
 */
public final class QsnapFuse extends FuseStubFS {
    /** Byte 20 of struct fuse_file_info holds the bitfields jnr-fuse models wrongly. */
    private static final int FILE_INFO_BITS = 20;
    private static final int DIRECT_IO = 1;
    private static final int KEEP_CACHE = 1 << 1;
    private static final int W_OK = 2;

    /** Everything belongs to the user serving the mount (not to whoever asks). */
    private static final com.sun.security.auth.module.UnixSystem OWNER = new com.sun.security.auth.module.UnixSystem();

    private final MountTree tree;
    private final NameInvalidator names;
    private final Map<Long, Handle> openFiles = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);

    /** An open file and the kernel's node it was opened on (0 when not known). */
    private record Handle(OpenFile file, long nodeId) {
    }

    QsnapFuse(MountTree tree, NameInvalidator names) {
        this.tree = tree;
        this.names = names;
    }

    /** The operations struct for {@code fuse_setup}; jnr-fuse keeps its callbacks alive. */
    Pointer operations() {
        return jnr.ffi.Struct.getMemory(fuseOperations);
    }

    long operationsSize() {
        return jnr.ffi.Struct.size(fuseOperations);
    }

    @FunctionalInterface
    private interface Callback {
        int run() throws Exception;
    }

    private int call(String what, String path, Callback body) {
        try {
            return body.run();
        } catch (Throwable t) {
            if (Errno.worthLogging(t)) {
                tree.log().add(what + " " + path + ": EIO: " + describe(t));
            }
            return Errno.of(t);
        }
    }

    private static String describe(Throwable t) {
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }

    @Override
    public int getattr(String path, FileStat stat) {
        return call("getattr", path, () -> {
            Attributes a = attributes(path);
            stat.st_mode.set((a.directory() ? FileStat.S_IFDIR : FileStat.S_IFREG) | a.mode());
            stat.st_nlink.set(a.links());
            stat.st_size.set(a.size());
            stat.st_blocks.set(a.blocks());
            stat.st_blksize.set(4096);
            for (Timespec t : new Timespec[] {stat.st_mtim, stat.st_ctim, stat.st_atim}) {
                t.tv_sec.set(a.mtimeSec());
                t.tv_nsec.set(a.mtimeNsec());
            }
            stat.st_uid.set(OWNER.getUid());
            stat.st_gid.set(OWNER.getGid());
            return 0;
        });
    }

    /**
     * The attributes at a path. For a LOOKUP the request's node is the parent directory, for a
     * GETATTR the path's own node: both teach directory ids. A GETATTR whose path is gone may come
     * from {@code fstat} of a file still open on that node (the kernel sends no handle with it):
     * the open file answers.
     */
    private Attributes attributes(String path) {
        RequestLoop.Worker request = RequestLoop.current();
        int opcode = request == null ? 0 : request.opcode;
        if (opcode == RequestLoop.FUSE_LOOKUP) {
            int slash = path.lastIndexOf('/');
            names.learn(slash <= 0 ? "/" : path.substring(0, slash), request.nodeId);
        }
        try {
            Attributes a = tree.attributes(tree.resolve(path));
            if (opcode == RequestLoop.FUSE_GETATTR && a.directory()) {
                names.learn(path, request.nodeId);
            }
            return a;
        } catch (ImageException e) {
            if (e.kind() == ImageException.Kind.NOT_FOUND && opcode == RequestLoop.FUSE_GETATTR) {
                for (Handle h : openFiles.values()) {
                    if (h.nodeId() == request.nodeId) {
                        return h.file().attributes();
                    }
                }
            }
            throw e;
        }
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filter, long offset, FuseFileInfo fi) {
        return call("readdir", path, () -> {
            Node node = tree.resolve(path);
            RequestLoop.Worker request = RequestLoop.current();
            if (request != null && request.opcode == RequestLoop.FUSE_READDIR) {
                names.learn(path, request.nodeId);
            }
            filter.apply(buf, ".", null, 0);
            filter.apply(buf, "..", null, 0);
            for (String name : tree.list(node)) {
                if (filter.apply(buf, name, null, 0) != 0) {
                    break;
                }
            }
            return 0;
        });
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        return call("open", path, () -> {
            OpenFile file = tree.open(path, fi.flags.get());
            names.deliver(); // opening a request's name for writing repeats the request
            return register(file, fi);
        });
    }

    /** Makes an open file the handle of {@code fi}, with its caching bits. */
    private int register(OpenFile file, FuseFileInfo fi) {
        long handle = nextHandle.getAndIncrement();
        RequestLoop.Worker request = RequestLoop.current();
        long node = request != null && request.opcode == RequestLoop.FUSE_OPEN ? request.nodeId : 0;
        openFiles.put(handle, new Handle(file, node));
        fi.fh.set(handle);
        Pointer info = jnr.ffi.Struct.getMemory(fi);
        int bits = info.getByte(FILE_INFO_BITS);
        bits = file.keepCache() ? bits | KEEP_CACHE : bits & ~KEEP_CACHE;
        bits = file.directIo() ? bits | DIRECT_IO : bits & ~DIRECT_IO;
        info.putByte(FILE_INFO_BITS, (byte) bits);
        return 0;
    }

    /**
     * Reads without copying: the reply lists where the bytes are, and libfuse splices file ranges
     * into the kernel (with {@code -o splice_write}; otherwise it copies them itself). With this
     * registered, libfuse never calls {@code read}, so there is none.
     */
    @Override
    public int read_buf(String path, Pointer bufp, long size, long offset, FuseFileInfo fi) {
        return call("read", path, () -> {
            Handle handle = openFiles.get(fi.fh.get());
            if (handle == null) {
                return -ErrorCodes.EBADF();
            }
            OpenFile file = handle.file();
            SpliceReply reply = new SpliceReply();
            try {
                file.map(offset, (int) size, reply);
            } catch (Throwable t) {
                reply.discard();
                throw t;
            }
            bufp.putAddress(0, reply.build());
            return 0;
        });
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        return call("release", path, () -> {
            Handle handle = openFiles.remove(fi.fh.get());
            if (handle != null) {
                handle.file().close();
            }
            return 0;
        });
    }

    @Override
    public int access(String path, int mask) {
        return call("access", path, () -> {
            Node node = tree.resolve(path);
            return (mask & W_OK) != 0 && !tree.writable(node) ? -ErrorCodes.EROFS() : 0;
        });
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        return call("statfs", path, () -> {
            // the image directory's file system: where snapshots take their space, and what a
            // request can still use
            FileStore store = Files.getFileStore(tree.imageDirectory());
            long block = 4096;
            stbuf.f_bsize.set(block);
            stbuf.f_frsize.set(block);
            stbuf.f_blocks.set(store.getTotalSpace() / block);
            stbuf.f_bfree.set(store.getUnallocatedSpace() / block);
            stbuf.f_bavail.set(store.getUsableSpace() / block);
            stbuf.f_namemax.set(255);
            return 0;
        });
    }

    /** Every way of changing the tree: the path must exist for EROFS, else ENOENT. */
    private int refuse(String what, String path) {
        return call(what, path, () -> {
            tree.resolve(path);
            throw MountTree.readOnly(path);
        });
    }

    /** New directories and links: nowhere, not even in the request directories. */
    private int refuseNew(String what, String path) {
        return call(what, path, () -> {
            throw MountTree.readOnly(path);
        });
    }

    /** A new file in a request directory is a request ({@code touch control/create/NAME}). */
    @Override
    public int create(String path, long mode, FuseFileInfo fi) {
        return call("create", path, () -> {
            OpenFile receipt = tree.create(path);
            names.deliver();
            return register(receipt, fi);
        });
    }

    @Override
    public int mknod(String path, long mode, long rdev) {
        return call("mknod", path, () -> {
            tree.mknod(path, (mode & FileStat.S_IFMT) == FileStat.S_IFREG);
            names.deliver();
            return 0;
        });
    }

    @Override
    public int mkdir(String path, long mode) {
        return refuseNew("mkdir", path);
    }

    @Override
    public int symlink(String oldpath, String newpath) {
        return refuseNew("symlink", newpath);
    }

    @Override
    public int link(String oldpath, String newpath) {
        return refuseNew("link", newpath);
    }

    @Override
    public int write(String path, Pointer buf, long size, long offset, FuseFileInfo fi) {
        return refuse("write", path);
    }

    @Override
    public int unlink(String path) {
        return refuse("unlink", path);
    }

    @Override
    public int rmdir(String path) {
        return refuse("rmdir", path);
    }

    @Override
    public int rename(String oldpath, String newpath) {
        return refuse("rename", oldpath);
    }

    @Override
    public int chmod(String path, long mode) {
        return refuse("chmod", path);
    }

    @Override
    public int chown(String path, long uid, long gid) {
        return refuse("chown", path);
    }

    @Override
    public int truncate(String path, long size) {
        return call("truncate", path, () -> {
            tree.truncate(path, size);
            return 0;
        });
    }

    @Override
    public int ftruncate(String path, long size, FuseFileInfo fi) {
        return truncate(path, size);
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        return call("utimens", path, () -> {
            tree.changeTimes(path);
            return 0;
        });
    }

    /** A snapshot file's facts ({@link MountTree#xattr}); ENODATA for a name a file does not have. */
    @Override
    public int getxattr(String path, String name, Pointer value, long size) {
        return call("getxattr", path, () -> xattrReply(tree.xattr(tree.resolve(path), name), value, size));
    }

    /** The names of a node's extended attributes, each ended by a NUL byte. */
    @Override
    public int listxattr(String path, Pointer list, long size) {
        return call("listxattr", path, () -> {
            ByteArrayOutputStream names = new ByteArrayOutputStream();
            for (String name : tree.xattrNames(tree.resolve(path))) {
                names.writeBytes(name.getBytes(StandardCharsets.UTF_8));
                names.write(0);
            }
            return xattrReply(names.toByteArray(), list, size);
        });
    }

    /**
     * The reply of getxattr and listxattr: with {@code size} 0 the caller asks how many bytes it
     * needs; a smaller buffer than that is ERANGE; else the bytes and their number.
     */
    private static int xattrReply(byte[] bytes, Pointer buffer, long size) {
        if (size == 0) {
            return bytes.length;
        }
        if (size < bytes.length) {
            return -ErrorCodes.ERANGE();
        }
        buffer.put(0, bytes, 0, bytes.length);
        return bytes.length;
    }

    /** Extended attributes cannot be set anywhere: EROFS, as for every other change of the tree. */
    @Override
    public int setxattr(String path, String name, Pointer value, long size, int flags) {
        return refuse("setxattr", path);
    }

    /** Nor removed. */
    @Override
    public int removexattr(String path, String name) {
        return refuse("removexattr", path);
    }

    @Override
    public int fallocate(String path, int mode, long off, long length, FuseFileInfo fi) {
        return refuse("fallocate", path);
    }
}
