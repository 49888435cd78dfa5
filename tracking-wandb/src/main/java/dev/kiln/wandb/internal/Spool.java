package dev.kiln.wandb.internal;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The append-only local journal {@code <run dir>/wandb/spool.jsonl}: one JSON record per line.
 *
 * <p>Writers append whole lines; a line torn by a crash (no trailing newline) is cut off when the
 * spool is opened again. {@link #length()} only covers whole lines. Readers use their own channel,
 * so a reader never disturbs the writer.
 */
public final class Spool implements Closeable {
  public static final String FILE_NAME = "spool.jsonl";

  private final Path dir;
  private final Path file;
  private final FileChannel channel;
  private final AtomicLong length = new AtomicLong();
  private final long priorLength;
  private final Object writeLock = new Object();
  private volatile long synced;

  private Spool(Path dir, Path file, FileChannel channel, long priorLength) {
    this.dir = dir;
    this.file = file;
    this.channel = channel;
    this.priorLength = priorLength;
    this.length.set(priorLength);
    this.synced = priorLength;
  }

  /** Opens (creating) the spool in {@code dir}, cutting off a torn last line. */
  public static Spool open(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path file = dir.resolve(FILE_NAME);
    FileChannel ch =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    long size = ch.size();
    long whole = wholeLinesLength(ch, size);
    if (whole < size) {
      ch.truncate(whole);
      ch.force(false);
    }
    ch.position(whole);
    return new Spool(dir, file, ch, whole);
  }

  /** Length of the prefix made of whole lines. */
  private static long wholeLinesLength(FileChannel ch, long size) throws IOException {
    long pos = size;
    ByteBuffer buf = ByteBuffer.allocate(8192);
    while (pos > 0) {
      int n = (int) Math.min(buf.capacity(), pos);
      buf.clear().limit(n);
      ch.read(buf, pos - n);
      for (int i = n - 1; i >= 0; i--) {
        if (buf.get(i) == '\n') {
          return pos - n + i + 1;
        }
      }
      pos -= n;
    }
    return 0;
  }

  public Path dir() {
    return dir;
  }

  public Path file() {
    return file;
  }

  /** Bytes present when the spool was opened (an earlier process's records). */
  public long priorLength() {
    return priorLength;
  }

  /** Bytes of whole lines written so far. */
  public long length() {
    return length.get();
  }

  /** Appends one record line (without newline). Returns the position it was written at. */
  public long append(String jsonLine) throws IOException {
    byte[] bytes = (jsonLine + "\n").getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.wrap(bytes);
    synchronized (writeLock) {
      long at = length.get();
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      length.addAndGet(bytes.length);
      return at;
    }
  }

  /** Forces everything appended so far to disk. Cheap when nothing is new. */
  public void sync() throws IOException {
    long len = length.get();
    if (len != synced && channel.isOpen()) {
      channel.force(false);
      synced = len;
    }
  }

  /** Whether all appended bytes are on disk. */
  public boolean isSynced() {
    return synced == length.get();
  }

  @Override
  public void close() throws IOException {
    if (channel.isOpen()) {
      try {
        sync();
      } finally {
        channel.close();
      }
    }
  }

  /** One whole line of the spool. */
  public record Line(long start, long end, String text) {}

  /** Reads whole lines from a spool file, independently of the writer. */
  public static final class Reader implements Closeable {
    private final FileChannel ch;

    public Reader(Path file) throws IOException {
      this.ch = FileChannel.open(file, StandardOpenOption.READ);
    }

    /** Up to {@code maxLines} whole lines in {@code [from, limit)}. */
    public List<Line> read(long from, long limit, int maxLines, long maxBytes) throws IOException {
      List<Line> out = new ArrayList<>();
      long pos = from;
      long bytes = 0;
      ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
      java.io.ByteArrayOutputStream cur = new java.io.ByteArrayOutputStream();
      long lineStart = pos;
      while (pos < limit && out.size() < maxLines && bytes < maxBytes) {
        buf.clear().limit((int) Math.min(buf.capacity(), limit - pos));
        int n = ch.read(buf, pos);
        if (n <= 0) {
          break;
        }
        for (int i = 0; i < n; i++) {
          byte b = buf.get(i);
          if (b == '\n') {
            long end = pos + i + 1;
            out.add(new Line(lineStart, end, cur.toString(StandardCharsets.UTF_8)));
            bytes += end - lineStart;
            cur.reset();
            lineStart = end;
            if (out.size() >= maxLines || bytes >= maxBytes) {
              return out;
            }
          } else {
            cur.write(b);
          }
        }
        pos += n;
      }
      return out;
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }
}
