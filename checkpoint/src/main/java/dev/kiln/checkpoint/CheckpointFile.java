package dev.kiln.checkpoint;

import java.util.List;
import java.util.Objects;

/**
 * One file of a checkpoint as recorded in its manifest.
 *
 * <p>A file over 1 MiB also has the SHA-256 of each of its parts ({@code partSize} bytes each, the
 * last one shorter), which lets loading verify it on all cores at once; smaller files have none.
 *
 * @param name path relative to the checkpoint directory, with {@code /} separators
 * @param size size in bytes
 * @param sha256 lowercase hex SHA-256 of the whole contents
 * @param partSize bytes per part, or 0 if the file has no parts
 * @param partSha256 lowercase hex SHA-256 of each part, in order; empty if the file has no parts
 */
public record CheckpointFile(
    String name, long size, String sha256, long partSize, List<String> partSha256) {

  public CheckpointFile {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(sha256, "sha256 == null");
    partSha256 = List.copyOf(Objects.requireNonNull(partSha256, "partSha256 == null"));
    if (size < 0) {
      throw new IllegalArgumentException("size < 0: " + size);
    }
    if (partSize < 0) {
      throw new IllegalArgumentException("partSize < 0: " + partSize);
    }
    long expectedParts = partSize == 0 || size == 0 ? 0 : (size - 1) / partSize + 1;
    if (partSha256.size() != expectedParts) {
      throw new IllegalArgumentException(
          "partSha256 has "
              + partSha256.size()
              + " digests but a "
              + size
              + "-byte file in parts of "
              + partSize
              + " has "
              + expectedParts);
    }
  }

  /** A file without part digests. */
  public CheckpointFile(String name, long size, String sha256) {
    this(name, size, sha256, 0, List.of());
  }
}
