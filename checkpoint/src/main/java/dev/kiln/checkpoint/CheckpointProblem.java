package dev.kiln.checkpoint;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Why a committed checkpoint was judged invalid and skipped.
 *
 * @param checkpoint the checkpoint directory
 * @param file the file that failed, relative to the checkpoint directory ({@code manifest.json} for
 *     manifest problems)
 * @param kind what failed
 * @param detail human-readable detail, e.g. the expected and actual checksums
 */
public record CheckpointProblem(Path checkpoint, String file, Kind kind, String detail) {

  /** What failed. */
  public enum Kind {
    /**
     * The manifest is missing: the directory was not written by a completed save, or was damaged
     * later.
     */
    MISSING_MANIFEST,
    /** The manifest is not valid JSON or lacks a required field. */
    UNREADABLE_MANIFEST,
    /** The manifest was written by a newer, incompatible format version. */
    UNSUPPORTED_FORMAT,
    /** A file listed in the manifest does not exist. */
    MISSING_FILE,
    /** A file's size differs from the manifest (truncated or appended to). */
    SIZE_MISMATCH,
    /** A file's (or a part's) checksum differs from the manifest (bytes changed). */
    CHECKSUM_MISMATCH,
    /** A file could not be read. */
    IO_ERROR
  }

  public CheckpointProblem {
    Objects.requireNonNull(checkpoint, "checkpoint == null");
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(kind, "kind == null");
    Objects.requireNonNull(detail, "detail == null");
  }

  /** One line naming the checkpoint, the file and what failed. */
  public String message() {
    return checkpoint.getFileName() + "/" + file + ": " + detail;
  }

  @Override
  public String toString() {
    return message();
  }
}
