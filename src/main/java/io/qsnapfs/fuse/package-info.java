/**
 * FUSE: the thin adapter from libfuse's callbacks to the mount's tree
 * ({@link io.qsnapfs.fuse.QsnapFuse}, failures to errno in one place), our own request loop over
 * libfuse's session API ({@link io.qsnapfs.fuse.RequestLoop}), kernel notifications for stale
 * names, and the mount's lifecycle ({@link io.qsnapfs.fuse.FuseMount}).
 */
package io.qsnapfs.fuse;
