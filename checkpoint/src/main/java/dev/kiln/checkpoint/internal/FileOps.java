package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;

/**
 * Every file-system mutation a checkpoint save makes. The store performs all its writes, syncs,
 * renames and deletions through one instance so tests can record the order of operations or inject
 * a failure (a full disk) at any step.
 */
public interface FileOps {

  /** Creates one directory; its parent must exist. */
  void createDirectory(Path dir) throws IOException;

  /** Opens a new file for writing; fails if it exists. */
  OutputStream newOutputStream(Path file) throws IOException;

  /** Writes {@code bytes} to a new file and forces them to the device. */
  void writeDurably(Path file, byte[] bytes) throws IOException;

  /** Forces a regular file's data and metadata to the device. */
  void fsyncFile(Path file) throws IOException;

  /**
   * Forces the data written to a file so far to the device while it is still being written, so that
   * its {@link #fsyncFile} at the end has less left to do. Does nothing by default. A failure here
   * fails the save: that fsync, on another descriptor, might not report it again.
   */
  default void flushEarly(Path file) throws IOException {}

  /**
   * Asks the system to start writing a file's data to the device without waiting, while it is still
   * being written (Linux's {@code sync_file_range}); makes nothing durable. The store calls it on
   * the writer's thread, in a directory on a local file system ({@link Writeback#suits}). False if
   * it could not; then the store falls back to {@link #flushEarly} on its sync thread. False by
   * default.
   */
  default boolean startWriteback(Path file) {
    return false;
  }

  /** Forces a directory's entries (names created, renamed or removed in it) to the device. */
  void fsyncDirectory(Path dir) throws IOException;

  /** Renames {@code source} to {@code target} atomically; fails if the file system cannot. */
  void atomicMove(Path source, Path target) throws IOException;

  /** Deletes a file or a directory tree; missing entries are ignored. */
  void deleteRecursively(Path path) throws IOException;

  /** The real file system. */
  static FileOps system() {
    return SystemFileOps.INSTANCE;
  }
}
