package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.ReadOnlyFileSystemException;
import java.util.Locale;

/** Turns I/O failures into messages that name the cause and what to do. */
public final class Failures {

  private Failures() {}

  /** A short description of {@code e}, e.g. "No space left on device". */
  public static String cause(Throwable e) {
    if (e instanceof FileSystemException fse && fse.getReason() != null) {
      return fse.getReason();
    }
    if (e instanceof AccessDeniedException) {
      return "Permission denied";
    }
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
  }

  /** What to do about a full disk. */
  public static final String DISK_FULL_HINT = "free space or point the run directory elsewhere";

  /** Whether {@code e} says the disk (or the user's quota on it) is full. */
  public static boolean isDiskFull(Throwable e) {
    String text = text(e);
    return text.contains("no space left")
        || text.contains("disk full")
        || text.contains("quota exceeded");
  }

  /** Whether {@code e} says the user's quota, rather than the disk, is exhausted. */
  public static boolean isQuotaExceeded(Throwable e) {
    return text(e).contains("quota exceeded");
  }

  /** What the user can do about {@code e}. */
  public static String hint(Throwable e) {
    String text = text(e);
    if (isDiskFull(e)) {
      return DISK_FULL_HINT;
    }
    if (e instanceof AccessDeniedException
        || text.contains("permission denied")
        || text.contains("access denied")) {
      return "make the directory writable or point the run directory elsewhere";
    }
    if (e instanceof ReadOnlyFileSystemException || text.contains("read-only file system")) {
      return "point the run directory at a writable file system";
    }
    if (e instanceof AtomicMoveNotSupportedException) {
      return "the file system cannot rename atomically; point the run directory at a local disk";
    }
    return "check the disk and the directory, then retry";
  }

  private static String text(Throwable e) {
    String text = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
    if (e instanceof FileSystemException fse && fse.getReason() != null) {
      text = text + " " + fse.getReason().toLowerCase(Locale.ROOT);
    }
    return text;
  }

  /** The file an exception is about, if it says. */
  public static String fileOf(IOException e) {
    if (e instanceof FileSystemException fse && fse.getFile() != null) {
      return fse.getFile();
    }
    return null;
  }
}
