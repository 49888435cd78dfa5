package dev.kiln.data.internal;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * The completion marker, {@code .kiln-staged.json} at the top of a staged directory. It is written
 * last, after every file is on disk, so its presence means the extraction finished; it records
 * which archive was extracted and every file with its size so the next run can check both.
 *
 * @param format always {@link #FORMAT}
 * @param archive the archive's path when it was staged (informational)
 * @param archiveSize the archive's size in bytes
 * @param archiveModifiedMillis the archive's last-modified time, epoch milliseconds
 * @param sha256 the archive's verified SHA-256, or null if none was given
 * @param stagedAt when staging finished, ISO-8601
 * @param bytes total bytes of all files
 * @param files every extracted file, relative path with '/' separators
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StagingMarker(
    String format,
    String archive,
    long archiveSize,
    long archiveModifiedMillis,
    String sha256,
    String stagedAt,
    long bytes,
    List<FileEntry> files) {

  public static final String FORMAT = "kiln-staged/1";

  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** One extracted file. */
  public record FileEntry(String path, long size) {}

  /** The marker in {@code dir}, or null when there is none or it cannot be read. */
  static StagingMarker read(Path dir) {
    Path file = dir.resolve(StagingPaths.MARKER);
    try {
      StagingMarker marker = JSON.readValue(file.toFile(), StagingMarker.class);
      return FORMAT.equals(marker.format()) && marker.files() != null ? marker : null;
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Writes the marker into {@code dir} and flushes it to the device. */
  void write(Path dir, StagingFileOps ops) throws IOException {
    Path file = dir.resolve(StagingPaths.MARKER);
    try (OutputStream out = ops.create(file)) {
      JSON.writeValue(new NonClosing(out), this);
    }
    ops.forceFile(file);
  }

  static boolean exists(Path dir) {
    return Files.exists(dir.resolve(StagingPaths.MARKER));
  }

  private static final class NonClosing extends java.io.FilterOutputStream {
    NonClosing(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }
}
