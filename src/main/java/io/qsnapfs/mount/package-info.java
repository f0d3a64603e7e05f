/**
 * The mount's file tree, without FUSE: the catalog of images kept current
 * ({@link io.qsnapfs.mount.ImageCatalog}) and the names it makes stale, path resolution and
 * listing ({@link io.qsnapfs.mount.MountTree}, {@link io.qsnapfs.mount.MountPath}), attributes,
 * the snapshot files' extended attributes (their facts), open files, the control directory's
 * requests and their log. Every failure is an {@link io.qsnapfs.engine.ImageException} whose kind
 * decides the errno.
 */
package io.qsnapfs.mount;
