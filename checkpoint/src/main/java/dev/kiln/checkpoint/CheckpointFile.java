package dev.kiln.checkpoint;

import java.util.Objects;

/**
 * One file of a checkpoint as recorded in its manifest.
 *
 * @param name path relative to the checkpoint directory, with {@code /} separators
 * @param size size in bytes
 * @param sha256 lowercase hex SHA-256 of the contents
 */
public record CheckpointFile(String name, long size, String sha256) {

  public CheckpointFile {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(sha256, "sha256 == null");
    if (size < 0) {
      throw new IllegalArgumentException("size < 0: " + size);
    }
  }
}
