package dev.kiln.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Writes small ustar archives for tests, including the odd entries a real tar can contain. */
final class StagingTarWriter {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  StagingTarWriter file(String name, String content) {
    return file(name, content.getBytes(StandardCharsets.UTF_8));
  }

  StagingTarWriter file(String name, byte[] data) {
    return entry(name, '0', data, "", data.length);
  }

  StagingTarWriter directory(String name) {
    return entry(name.endsWith("/") ? name : name + "/", '5', new byte[0], "", 0);
  }

  StagingTarWriter symlink(String name, String target) {
    return entry(name, '2', new byte[0], target, 0);
  }

  StagingTarWriter hardlink(String name, String target) {
    return entry(name, '1', new byte[0], target, 0);
  }

  /** A file whose name is too long for the header, announced by a GNU '././@LongLink' entry. */
  StagingTarWriter gnuLongName(String name, String content) {
    entry("././@LongLink", 'L', (name + "\0").getBytes(StandardCharsets.UTF_8), "", -1);
    return file(name.substring(0, 99), content);
  }

  /**
   * A file described by a pax extended header; {@code headerName} and {@code headerSize} go in the
   * ustar header, which the pax records override.
   */
  StagingTarWriter pax(
      Map<String, String> records, String headerName, long headerSize, byte[] data) {
    StringBuilder body = new StringBuilder();
    for (Map.Entry<String, String> r : records.entrySet()) {
      String rest = " " + r.getKey() + "=" + r.getValue() + "\n";
      int length = rest.getBytes(StandardCharsets.UTF_8).length;
      int digits = String.valueOf(length).length();
      if (String.valueOf(length + digits).length() != digits) {
        digits++;
      }
      body.append(length + digits).append(rest);
    }
    entry(
        "PaxHeaders/" + headerName, 'x', body.toString().getBytes(StandardCharsets.UTF_8), "", -1);
    return entry(headerName, '0', data, "", headerSize);
  }

  /** One entry; {@code headerSize} -1 means the data's length. */
  StagingTarWriter entry(String name, char type, byte[] data, String link, long headerSize) {
    byte[] h = new byte[512];
    put(h, 0, 100, name);
    put(h, 100, 8, "0000644");
    put(h, 108, 8, "0000000");
    put(h, 116, 8, "0000000");
    put(h, 124, 12, String.format("%011o", headerSize < 0 ? data.length : headerSize));
    put(h, 136, 12, String.format("%011o", 1_700_000_000L));
    h[156] = (byte) type;
    put(h, 157, 100, link);
    put(h, 257, 6, "ustar");
    put(h, 263, 2, "00");
    put(h, 265, 32, "kiln");
    put(h, 297, 32, "kiln");
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, 7, String.format("%06o", sum));
    out.writeBytes(h);
    out.writeBytes(data);
    out.writeBytes(new byte[(512 - data.length % 512) % 512]);
    return this;
  }

  private static void put(byte[] h, int off, int len, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > len) {
      throw new IllegalArgumentException("'" + s + "' does not fit in " + len + " bytes");
    }
    System.arraycopy(b, 0, h, off, b.length);
  }

  /** The archive with its two zero end blocks. */
  byte[] bytes() {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    all.writeBytes(out.toByteArray());
    all.writeBytes(new byte[1024]);
    return all.toByteArray();
  }

  /** The archive without its end blocks, as a cut-short copy would be. */
  byte[] bytesWithoutEnd() {
    return out.toByteArray();
  }

  Path writeTo(Path file) throws IOException {
    Files.write(file, bytes());
    return file;
  }

  Path writeGzTo(Path file) throws IOException {
    Files.write(file, gzip(bytes()));
    return file;
  }

  static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (OutputStream o = new GZIPOutputStream(gz)) {
      o.write(data);
    }
    return gz.toByteArray();
  }
}
