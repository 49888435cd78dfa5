package dev.kiln.data.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * The central directory of a zip file, read from its tail: the authoritative list of members with
 * their sizes and Unix file types. The streaming reader cannot see the types (a symbolic link looks
 * like a small file in the local headers), and a zip cut short loses its directory first, so
 * reading it up front also detects truncation before anything is extracted.
 */
final class ArchiveZipDirectory {
  private static final int EOCD = 0x06054b50;
  private static final int ZIP64_LOCATOR = 0x07064b50;
  private static final int ZIP64_EOCD = 0x06064b50;
  private static final int CENTRAL = 0x02014b50;
  private static final int UNIX = 3;
  private static final int S_IFMT = 0170000;
  private static final int S_IFREG = 0100000;
  private static final int S_IFDIR = 0040000;
  private static final int S_IFLNK = 0120000;

  /** One central-directory record. {@code unixType} is the S_IFMT bits, or 0 if not recorded. */
  record Member(String name, long size, int unixType) {
    boolean isSymlink() {
      return unixType == S_IFLNK;
    }

    boolean isSpecial() {
      return unixType != 0 && unixType != S_IFREG && unixType != S_IFDIR && unixType != S_IFLNK;
    }
  }

  final Map<String, Member> members;
  final long count;

  private ArchiveZipDirectory(Map<String, Member> members, long count) {
    this.members = members;
    this.count = count;
  }

  static ArchiveZipDirectory read(Path zip) throws IOException {
    try (FileChannel ch = FileChannel.open(zip, StandardOpenOption.READ)) {
      long fileSize = ch.size();
      int tailLength = (int) Math.min(fileSize, 22 + 0xffff);
      ByteBuffer tail = readAt(ch, fileSize - tailLength, tailLength);
      int eocd = -1;
      for (int i = tailLength - 22; i >= 0; i--) {
        if (tail.getInt(i) == EOCD && i + 22 + (tail.getShort(i + 20) & 0xffff) == tailLength) {
          eocd = i;
          break;
        }
      }
      if (eocd < 0) {
        throw new IOException(
            "the zip file has no central directory at its end; it is truncated (an interrupted"
                + " upload or copy?) or not a complete zip file");
      }
      long entries = tail.getShort(eocd + 10) & 0xffff;
      long cdSize = tail.getInt(eocd + 12) & 0xffffffffL;
      long cdOffset = tail.getInt(eocd + 16) & 0xffffffffL;
      long eocdPosition = fileSize - tailLength + eocd;
      if ((entries == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL)
          && eocdPosition >= 20) {
        ByteBuffer locator = readAt(ch, eocdPosition - 20, 20);
        if (locator.getInt(0) == ZIP64_LOCATOR) {
          ByteBuffer z = readAt(ch, locator.getLong(8), 56);
          if (z.getInt(0) != ZIP64_EOCD) {
            throw new IOException(
                "the zip file's ZIP64 end record is missing; the archive is corrupt");
          }
          entries = z.getLong(32);
          cdSize = z.getLong(40);
          cdOffset = z.getLong(48);
        }
      }
      if (cdOffset + cdSize > eocdPosition || cdSize > Integer.MAX_VALUE) {
        throw new IOException(
            "the zip file's central directory lies outside the file; the archive is corrupt");
      }
      ByteBuffer cd = readAt(ch, cdOffset, (int) cdSize);
      Map<String, Member> members = new HashMap<>();
      int pos = 0;
      for (long i = 0; i < entries; i++) {
        if (pos + 46 > cd.limit() || cd.getInt(pos) != CENTRAL) {
          throw new IOException(
              "the zip file's central directory is damaged at record "
                  + i
                  + "; the archive is corrupt");
        }
        int madeBy = (cd.getShort(pos + 4) & 0xffff) >>> 8;
        long size = cd.getInt(pos + 24) & 0xffffffffL;
        int nameLength = cd.getShort(pos + 28) & 0xffff;
        int extraLength = cd.getShort(pos + 30) & 0xffff;
        int commentLength = cd.getShort(pos + 32) & 0xffff;
        long external = cd.getInt(pos + 38) & 0xffffffffL;
        if (pos + 46 + nameLength + extraLength + commentLength > cd.limit()) {
          throw new IOException(
              "the zip file's central directory is damaged at record "
                  + i
                  + "; the archive is corrupt");
        }
        byte[] nameBytes = new byte[nameLength];
        cd.get(pos + 46, nameBytes);
        String name = new String(nameBytes, StandardCharsets.UTF_8);
        if (size == 0xffffffffL) {
          size = zip64Size(cd, pos + 46 + nameLength, extraLength, size);
        }
        int unixType = madeBy == UNIX ? (int) ((external >>> 16) & S_IFMT) : 0;
        members.put(name, new Member(name, size, unixType));
        pos += 46 + nameLength + extraLength + commentLength;
      }
      return new ArchiveZipDirectory(members, entries);
    }
  }

  private static long zip64Size(ByteBuffer cd, int start, int length, long fallback) {
    int p = start;
    while (p + 4 <= start + length) {
      int id = cd.getShort(p) & 0xffff;
      int size = cd.getShort(p + 2) & 0xffff;
      if (id == 0x0001 && size >= 8) {
        return cd.getLong(p + 4);
      }
      p += 4 + size;
    }
    return fallback;
  }

  private static ByteBuffer readAt(FileChannel ch, long position, int length) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    while (buffer.hasRemaining()) {
      if (ch.read(buffer, position + buffer.position()) < 0) {
        throw new EOFException("the zip file ends early; it is truncated");
      }
    }
    return buffer.flip();
  }
}
