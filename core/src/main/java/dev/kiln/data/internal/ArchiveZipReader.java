package dev.kiln.data.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Streams a zip file front to back (one sequential read, kind to slow mounts) with {@link
 * ZipInputStream}, which checks each member's CRC, and cross-checks every member against the
 * central directory: its Unix type (links are reported as such), its size, and that none is
 * missing.
 */
final class ArchiveZipReader implements ArchiveReader {
  private final ArchiveZipDirectory directory;
  private final ZipInputStream zip;
  private final ArchiveInput raw;
  private final Set<String> seen = new HashSet<>();
  private final InputStream content;
  private String previous;

  ArchiveZipReader(Path archive, ArchiveInput raw) throws IOException {
    this.directory = ArchiveZipDirectory.read(archive);
    this.raw = raw;
    this.zip = new ZipInputStream(raw, StandardCharsets.UTF_8);
    this.content =
        new InputStream() {
          @Override
          public int read() throws IOException {
            return zip.read();
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            return zip.read(b, off, len);
          }
        };
  }

  @Override
  public ArchiveEntry next() throws IOException {
    ZipEntry entry;
    try {
      entry = zip.getNextEntry();
    } catch (IllegalArgumentException e) {
      throw new IOException(
          "an entry name"
              + after()
              + " is not valid UTF-8 (a zip made with a legacy Windows code page?);"
              + " re-create the zip with UTF-8 names",
          e);
    }
    if (entry == null) {
      return null;
    }
    String name = entry.getName();
    previous = name;
    seen.add(name);
    ArchiveZipDirectory.Member member = directory.members.get(name);
    if (member == null) {
      throw new IOException(
          "entry '"
              + name
              + "' is not listed in the zip file's central directory; the archive is corrupt");
    }
    if (member.isSymlink()) {
      return new ArchiveEntry(name, ArchiveEntry.Kind.SYMLINK, member.size(), "", "symbolic link");
    }
    if (member.isSpecial()) {
      return new ArchiveEntry(name, ArchiveEntry.Kind.OTHER, member.size(), "", "special file");
    }
    if (entry.isDirectory()) {
      return ArchiveEntry.directory(name);
    }
    return ArchiveEntry.file(name, member.size());
  }

  private String after() {
    return previous == null ? "" : " after '" + previous + "'";
  }

  @Override
  public InputStream content() {
    return content;
  }

  @Override
  public void finish() throws IOException {
    if (seen.size() < directory.members.size()) {
      String missing =
          directory.members.keySet().stream()
              .filter(n -> !seen.contains(n))
              .sorted()
              .findFirst()
              .orElse("?");
      throw new IOException(
          "entry '"
              + missing
              + "' is listed in the zip file's central directory but its data was not found;"
              + " the archive is corrupt");
    }
    raw.drain();
  }

  @Override
  public void close() throws IOException {
    zip.close();
  }
}
