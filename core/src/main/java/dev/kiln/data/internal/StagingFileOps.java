package dev.kiln.data.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The file-system writes staging makes, gathered in one place so a test can make them fail (a full
 * disk, a failing rename) without a real full disk.
 */
public interface StagingFileOps {

  /** The real file system. */
  StagingFileOps SYSTEM = new StagingFileOps() {};

  /** Creates (or truncates) {@code file} for writing. */
  default OutputStream create(Path file) throws IOException {
    return Files.newOutputStream(
        file,
        StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE);
  }

  /** Flushes {@code file} to the storage device. */
  default void forceFile(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      channel.force(true);
    }
  }

  /**
   * Flushes a directory's entries (names created or renamed in it) to the device. Best effort: some
   * platforms cannot open a directory, which is ignored.
   */
  default void forceDirectory(Path dir) throws IOException {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // Windows and some file systems refuse to open or sync directories.
    }
  }

  /** Renames {@code from} to {@code to} atomically; {@code to} must not exist. */
  default void move(Path from, Path to) throws IOException {
    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
  }
}
