package dev.kiln.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Puts the contents of one checkpoint into a fresh, empty directory. The store then syncs,
 * checksums and commits whatever was written; the writer need not sync anything itself. The name
 * {@code manifest.json} is reserved.
 */
@FunctionalInterface
public interface CheckpointWriter {

  /**
   * Writes the checkpoint's files into {@code directory} (subdirectories are allowed).
   *
   * @throws IOException if writing fails; the save is then abandoned and the directory deleted
   */
  void write(Path directory) throws IOException;
}
