package dev.kiln.data.internal;

/**
 * One member of an archive as its reader saw it, before any safety check.
 *
 * @param name the path as stored in the archive (after GNU long-name and pax overrides)
 * @param kind what the member is
 * @param size bytes of content, or -1 when the archive does not say up front
 * @param linkTarget where a link points, or {@code ""}
 * @param typeDescription for {@link Kind#OTHER}, what it is ("character device", "type 'S'")
 */
public record ArchiveEntry(
    String name, Kind kind, long size, String linkTarget, String typeDescription) {

  /** What an archive member is. Only files and directories are ever extracted. */
  public enum Kind {
    FILE,
    DIRECTORY,
    SYMLINK,
    HARDLINK,
    OTHER
  }

  static ArchiveEntry file(String name, long size) {
    return new ArchiveEntry(name, Kind.FILE, size, "", "file");
  }

  static ArchiveEntry directory(String name) {
    return new ArchiveEntry(name, Kind.DIRECTORY, 0, "", "directory");
  }
}
