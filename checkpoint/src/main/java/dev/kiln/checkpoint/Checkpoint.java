package dev.kiln.checkpoint;

import dev.kiln.checkpoint.internal.Manifest;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * A committed checkpoint: its directory and what its manifest records. Instances from {@link
 * CheckpointStore#latestValid()}, {@link CheckpointStore#verify(Path)} and {@link
 * CheckpointStore#save} were verified against their checksums; those from {@link
 * CheckpointStore#list()} were not.
 */
public final class Checkpoint {

  private final Path directory;
  private final Manifest manifest;

  Checkpoint(Path directory, Manifest manifest) {
    this.directory = Objects.requireNonNull(directory, "directory == null");
    this.manifest = Objects.requireNonNull(manifest, "manifest == null");
  }

  /** Directory name, e.g. {@code ckpt-000000012345-e0003}. */
  public String name() {
    return directory.getFileName().toString();
  }

  public Path directory() {
    return directory;
  }

  public int epoch() {
    return manifest.epoch();
  }

  /** Global step. */
  public long step() {
    return manifest.step();
  }

  /** When the save started, by the store's clock. */
  public Instant createdAt() {
    return manifest.createdAt();
  }

  /** The metrics of the {@link CheckpointRequest}; non-finite values are preserved. */
  public Map<String, Double> metrics() {
    return manifest.metrics();
  }

  /** The metadata of the {@link CheckpointRequest}, as plain JSON values. */
  public Map<String, Object> metadata() {
    return manifest.metadata();
  }

  /**
   * Software versions recorded at save time, e.g. {@code kiln}, {@code djl}, {@code engine}, {@code
   * java}.
   */
  public Map<String, String> versions() {
    return manifest.versions();
  }

  /**
   * Every file the writer produced, by relative name ({@code /}-separated), with size, SHA-256 and
   * part CRC32Cs.
   */
  public Map<String, CheckpointFile> files() {
    return manifest.files();
  }

  /** Version of the on-disk format this checkpoint was written in. */
  public int formatVersion() {
    return manifest.formatVersion();
  }

  /**
   * Path of one of this checkpoint's files.
   *
   * @throws IllegalArgumentException if the checkpoint has no file by that name; check {@link
   *     #files()} for optional files
   */
  public Path file(String name) {
    if (!manifest.files().containsKey(name)) {
      throw new IllegalArgumentException(
          "checkpoint "
              + name()
              + " has no file '"
              + name
              + "'; it has "
              + manifest.files().keySet());
    }
    Path result = directory;
    for (String part : name.split("/")) {
      result = result.resolve(part);
    }
    return result;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Checkpoint c
        && directory.equals(c.directory)
        && manifest.equals(c.manifest);
  }

  @Override
  public int hashCode() {
    return directory.hashCode();
  }

  @Override
  public String toString() {
    return "Checkpoint{"
        + name()
        + ", epoch="
        + epoch()
        + ", step="
        + step()
        + ", files="
        + files().size()
        + "}";
  }
}
