package dev.kiln.data.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;

/** The archive formats Kiln can stage, recognised from their first bytes rather than the name. */
public enum ArchiveFormat {
  ZIP("zip"),
  TAR("tar"),
  TAR_GZ("tar.gz");

  private final String label;

  ArchiveFormat(String label) {
    this.label = label;
  }

  @Override
  public String toString() {
    return label;
  }

  /**
   * Reads the first bytes of {@code archive} and says what it is.
   *
   * @throws IOException naming the format found (xz, bzip2, 7z...) or the leading bytes, and what
   *     to do instead, when it is none of zip, tar and tar.gz
   */
  public static ArchiveFormat detect(Path archive) throws IOException {
    byte[] head = new byte[512];
    int n;
    try (InputStream in = Files.newInputStream(archive)) {
      n = in.readNBytes(head, 0, head.length);
    }
    if (n >= 4
        && head[0] == 'P'
        && head[1] == 'K'
        && (head[2] == 3 || head[2] == 5)
        && head[3] == head[2] + 1) {
      return ZIP;
    }
    if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
      return TAR_GZ;
    }
    if (n == 512 && ArchiveTarReader.isHeader(head)) {
      return TAR;
    }
    String other = otherFormat(head, n);
    String what =
        other != null
            ? "is " + other
            : n == 0
                ? "is empty"
                : "starts with bytes " + HexFormat.of().formatHex(head, 0, Math.min(n, 8));
    throw new IOException(
        "archive "
            + archive
            + " "
            + what
            + ", not a zip, tar or tar.gz archive — Kiln stages .zip, .tar and .tar.gz/.tgz files;"
            + " repack the dataset in one of those formats (for example: tar -czf data.tar.gz"
            + " data/)");
  }

  private static String otherFormat(byte[] h, int n) {
    if (n >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') {
      return "bzip2-compressed (.tar.bz2?)";
    }
    if (n >= 6
        && (h[0] & 0xff) == 0xfd
        && h[1] == '7'
        && h[2] == 'z'
        && h[3] == 'X'
        && h[4] == 'Z') {
      return "xz-compressed (.tar.xz?)";
    }
    if (n >= 4
        && (h[0] & 0xff) == 0x28
        && (h[1] & 0xff) == 0xb5
        && (h[2] & 0xff) == 0x2f
        && (h[3] & 0xff) == 0xfd) {
      return "zstd-compressed (.tar.zst?)";
    }
    if (n >= 4 && h[0] == '7' && h[1] == 'z' && (h[2] & 0xff) == 0xbc && (h[3] & 0xff) == 0xaf) {
      return "a 7z archive";
    }
    if (n >= 4 && h[0] == 'R' && h[1] == 'a' && h[2] == 'r' && h[3] == '!') {
      return "a RAR archive";
    }
    return null;
  }

  /** Opens a reader over {@code in}, the raw bytes of an archive of this format. */
  public ArchiveReader open(Path archive, ArchiveInput in) throws IOException {
    switch (this) {
      case ZIP:
        return new ArchiveZipReader(archive, in);
      case TAR:
        return new ArchiveTarReader(in, in);
      case TAR_GZ:
        return new ArchiveTarReader(new GZIPInputStream(in, 1 << 16), in);
      default:
        throw new AssertionError(this);
    }
  }
}
