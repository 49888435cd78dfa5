package dev.kiln.data.internal;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads a tar stream: ustar and GNU headers in 512-byte blocks, octal or base-256 sizes, GNU long
 * names ({@code ././@LongLink}, types 'L' and 'K') and pax extended headers (types 'x' and 'g'; the
 * {@code path}, {@code linkpath} and {@code size} records are honoured). Every header's checksum is
 * verified, and a stream that ends before the end-of-archive blocks is reported as truncated.
 */
final class ArchiveTarReader implements ArchiveReader {
  private static final int BLOCK = 512;
  private static final int MAX_META = 1 << 20;

  private final InputStream in;
  private final ArchiveInput raw;
  private final byte[] header = new byte[BLOCK];
  private final Map<String, String> globalPax = new HashMap<>();
  private final EntryStream content = new EntryStream();
  private String current = null;
  private String previous = null;
  private long remaining;
  private long padding;
  private boolean ended;

  /**
   * @param in the (decompressed) tar stream
   * @param raw the archive file's bytes, drained by {@link #finish()}
   */
  ArchiveTarReader(InputStream in, ArchiveInput raw) {
    this.in = in == raw ? in : new BufferedInputStream(in, 1 << 16);
    this.raw = raw;
  }

  /** Whether {@code block} is a tar header: "ustar" magic, or a v7 header with a valid checksum. */
  static boolean isHeader(byte[] block) {
    if (block.length < BLOCK) {
      return false;
    }
    if (block[257] == 'u'
        && block[258] == 's'
        && block[259] == 't'
        && block[260] == 'a'
        && block[261] == 'r') {
      return true;
    }
    try {
      long stored = parseNumber(block, 148, 8);
      return stored > 0 && (stored == checksum(block, false) || stored == checksum(block, true));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  @Override
  public ArchiveEntry next() throws IOException {
    if (ended) {
      return null;
    }
    skipRest();
    String longName = null;
    Map<String, String> pax = new HashMap<>();
    while (true) {
      int n = in.readNBytes(header, 0, BLOCK);
      if (n == 0) {
        throw new EOFException(
            "the archive ends without the end-of-archive marker"
                + after()
                + "; it is truncated (an interrupted upload or copy?)");
      }
      if (n < BLOCK) {
        throw new EOFException("the archive ends inside a header" + after() + "; it is truncated");
      }
      if (isZero(header)) {
        // End of archive: a second zero block (or, leniently, the end of the stream) follows.
        int m = in.readNBytes(header, 0, BLOCK);
        if (m != 0 && m != BLOCK) {
          throw new EOFException(
              "the archive ends inside its end-of-archive marker; it is truncated");
        }
        ended = true;
        current = null;
        return null;
      }
      long stored;
      try {
        stored = parseNumber(header, 148, 8);
      } catch (IllegalArgumentException e) {
        stored = -1;
      }
      if (stored != checksum(header, false) && stored != checksum(header, true)) {
        throw new IOException(
            "header checksum mismatch at entry '"
                + text(header, 0, 100)
                + "'"
                + after()
                + "; the archive is corrupt");
      }
      char type = (char) (header[156] & 0xff);
      String headerName = headerName();
      long size;
      try {
        size = parseNumber(header, 124, 12);
      } catch (IllegalArgumentException e) {
        throw new IOException(
            "entry '" + headerName + "' has an unreadable size field; the archive is corrupt");
      }
      if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
        if (size > MAX_META) {
          throw new IOException(
              "entry '"
                  + headerName
                  + "' (type '"
                  + type
                  + "') has "
                  + size
                  + " bytes of metadata; the archive is corrupt");
        }
        byte[] data = readFully((int) size, headerName);
        skipExactly(pad(size), headerName);
        if (type == 'L') {
          longName = cString(data);
        } else if (type == 'x') {
          pax.putAll(parsePax(data, headerName));
        } else if (type == 'g') {
          globalPax.putAll(parsePax(data, headerName));
        }
        continue;
      }
      Map<String, String> merged = new HashMap<>(globalPax);
      merged.putAll(pax);
      String name = merged.getOrDefault("path", longName != null ? longName : headerName);
      if (merged.containsKey("size")) {
        try {
          size = Long.parseLong(merged.get("size").trim());
        } catch (NumberFormatException e) {
          throw new IOException(
              "entry '" + name + "' has an unreadable pax size; the archive is corrupt");
        }
        if (size < 0) {
          throw new IOException("entry '" + name + "' has a negative size; the archive is corrupt");
        }
      }
      String link = merged.getOrDefault("linkpath", text(header, 157, 100));
      current = name;
      previous = name;
      remaining = size;
      padding = pad(size);
      content.restart();
      switch (type) {
        case '0':
        case '\0':
        case '7':
          return name.endsWith("/") && type == '\0'
              ? ArchiveEntry.directory(name)
              : ArchiveEntry.file(name, size);
        case '5':
          return ArchiveEntry.directory(name);
        case '1':
          return new ArchiveEntry(name, ArchiveEntry.Kind.HARDLINK, size, link, "hard link");
        case '2':
          return new ArchiveEntry(name, ArchiveEntry.Kind.SYMLINK, size, link, "symbolic link");
        case '3':
          return new ArchiveEntry(name, ArchiveEntry.Kind.OTHER, size, "", "character device");
        case '4':
          return new ArchiveEntry(name, ArchiveEntry.Kind.OTHER, size, "", "block device");
        case '6':
          return new ArchiveEntry(name, ArchiveEntry.Kind.OTHER, size, "", "FIFO");
        default:
          return new ArchiveEntry(
              name, ArchiveEntry.Kind.OTHER, size, "", "tar entry of type '" + type + "'");
      }
    }
  }

  @Override
  public InputStream content() {
    return content;
  }

  @Override
  public void finish() throws IOException {
    // Read the zero padding after the end marker (and, for gzip, its trailer with the CRC check).
    byte[] buffer = new byte[1 << 16];
    while (in.read(buffer) >= 0) {
      // discard
    }
    raw.drain();
  }

  @Override
  public void close() throws IOException {
    in.close();
  }

  private String after() {
    return previous == null ? "" : " (after entry '" + previous + "')";
  }

  private void skipRest() throws IOException {
    if (current != null) {
      skipExactly(remaining + padding, current);
      remaining = 0;
      padding = 0;
    }
  }

  private void skipExactly(long n, String entry) throws IOException {
    long left = n;
    byte[] buffer = new byte[(int) Math.min(1 << 16, Math.max(1, n))];
    while (left > 0) {
      int r = in.read(buffer, 0, (int) Math.min(buffer.length, left));
      if (r < 0) {
        throw truncated(entry);
      }
      left -= r;
    }
  }

  private byte[] readFully(int size, String entry) throws IOException {
    byte[] data = in.readNBytes(size);
    if (data.length < size) {
      throw truncated(entry);
    }
    return data;
  }

  private static EOFException truncated(String entry) {
    return new EOFException("the archive ends inside entry '" + entry + "'; it is truncated");
  }

  private String headerName() {
    String name = text(header, 0, 100);
    boolean posix = header[257] == 'u' && header[262] == 0; // "ustar\0"; GNU uses "ustar  \0"
    if (posix && header[345] != 0) {
      name = text(header, 345, 155) + "/" + name;
    }
    return name;
  }

  private static long pad(long size) {
    return (BLOCK - size % BLOCK) % BLOCK;
  }

  private static boolean isZero(byte[] block) {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  static long checksum(byte[] block, boolean signed) {
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      int b = i >= 148 && i < 156 ? ' ' : signed ? block[i] : block[i] & 0xff;
      sum += b;
    }
    return sum;
  }

  /** Parses an octal field (space or NUL terminated) or a GNU base-256 field. */
  static long parseNumber(byte[] b, int off, int len) {
    if ((b[off] & 0x80) != 0) {
      long value = b[off] & 0x7f;
      for (int i = 1; i < len; i++) {
        if (value >>> 55 != 0) {
          throw new IllegalArgumentException("base-256 number too large");
        }
        value = (value << 8) | (b[off + i] & 0xff);
      }
      return value;
    }
    long value = 0;
    int i = off;
    int end = off + len;
    while (i < end && (b[i] == ' ' || b[i] == 0)) {
      i++;
    }
    boolean digits = false;
    for (; i < end && b[i] != 0 && b[i] != ' '; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 7) {
        throw new IllegalArgumentException("not octal");
      }
      value = value * 8 + d;
      digits = true;
    }
    if (!digits) {
      throw new IllegalArgumentException("empty number");
    }
    return value;
  }

  private static String text(byte[] b, int off, int len) {
    int end = off;
    while (end < off + len && b[end] != 0) {
      end++;
    }
    return new String(b, off, end - off, StandardCharsets.UTF_8);
  }

  private static String cString(byte[] data) {
    int end = 0;
    while (end < data.length && data[end] != 0) {
      end++;
    }
    return new String(data, 0, end, StandardCharsets.UTF_8);
  }

  /** Parses pax records, each "LENGTH KEY=VALUE\n" where LENGTH counts the whole record. */
  static Map<String, String> parsePax(byte[] data, String entry) throws IOException {
    Map<String, String> records = new HashMap<>();
    int pos = 0;
    while (pos < data.length && data[pos] != 0) {
      int space = pos;
      while (space < data.length && data[space] != ' ') {
        space++;
      }
      int length;
      try {
        length = Integer.parseInt(new String(data, pos, space - pos, StandardCharsets.US_ASCII));
      } catch (NumberFormatException e) {
        throw new IOException(
            "pax header '" + entry + "' has a malformed record; the archive is corrupt");
      }
      int end = pos + length;
      if (length <= 0 || end > data.length || space >= end || data[end - 1] != '\n') {
        throw new IOException(
            "pax header '" + entry + "' has a malformed record; the archive is corrupt");
      }
      String record = new String(data, space + 1, end - space - 2, StandardCharsets.UTF_8);
      int eq = record.indexOf('=');
      if (eq <= 0) {
        throw new IOException(
            "pax header '" + entry + "' has a malformed record; the archive is corrupt");
      }
      records.put(record.substring(0, eq), record.substring(eq + 1));
      pos = end;
    }
    return records;
  }

  /** The current entry's bytes: exactly {@code remaining} of them, then -1. */
  private final class EntryStream extends InputStream {
    private boolean failed;

    void restart() {
      failed = false;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (remaining == 0 || failed) {
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, remaining));
      if (n < 0) {
        failed = true;
        throw truncated(current);
      }
      remaining -= n;
      return n;
    }
  }
}
