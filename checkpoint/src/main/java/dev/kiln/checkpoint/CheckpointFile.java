package dev.kiln.checkpoint;

import java.util.List;
import java.util.Objects;

/**
 * One file of a checkpoint as recorded in its manifest.
 *
 * <p>Besides the SHA-256 of its contents, a file has the CRC32C of each of its parts ({@code
 * partSize} bytes each, the last one shorter; one part up to 1 MiB, at most 64 parts). Loading
 * checks the parts: on all cores at once and at memory speed (see {@link Verification}).
 *
 * @param name path relative to the checkpoint directory, with {@code /} separators
 * @param size size in bytes
 * @param sha256 lowercase hex SHA-256 of the whole contents
 * @param partSize bytes per part, or 0 if the file has no parts (it is empty, or its manifest was
 *     written before Kiln recorded parts)
 * @param partCrc32c CRC32C of each part as 8 lowercase hex digits, in order; empty if the file has
 *     no parts
 */
public record CheckpointFile(
    String name, long size, String sha256, long partSize, List<String> partCrc32c) {

  public CheckpointFile {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(sha256, "sha256 == null");
    partCrc32c = List.copyOf(Objects.requireNonNull(partCrc32c, "partCrc32c == null"));
    if (size < 0) {
      throw new IllegalArgumentException("size < 0: " + size);
    }
    if (partSize < 0) {
      throw new IllegalArgumentException("partSize < 0: " + partSize);
    }
    long expectedParts = partSize == 0 || size == 0 ? 0 : (size - 1) / partSize + 1;
    if (partCrc32c.size() != expectedParts) {
      throw new IllegalArgumentException(
          "partCrc32c has "
              + partCrc32c.size()
              + " checksums but a "
              + size
              + "-byte file in parts of "
              + partSize
              + " has "
              + expectedParts);
    }
  }

  /** A file without part checksums. */
  public CheckpointFile(String name, long size, String sha256) {
    this(name, size, sha256, 0, List.of());
  }
}
