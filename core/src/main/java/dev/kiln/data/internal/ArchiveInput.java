package dev.kiln.data.internal;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The raw bytes of the archive file as they are read: counts them for progress and, when asked,
 * feeds them to SHA-256 so the digest costs no second pass over a slow mount.
 */
public final class ArchiveInput extends FilterInputStream {
  private final MessageDigest digest;
  private long count;

  public ArchiveInput(InputStream in, boolean sha256) {
    super(in);
    this.digest = sha256 ? newSha256() : null;
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  /** Bytes read from the file so far. */
  public long count() {
    return count;
  }

  /** Reads everything not read yet (through the digest) and returns how many bytes that was. */
  public long drain() throws IOException {
    byte[] buffer = new byte[1 << 16];
    long drained = 0;
    for (int n; (n = read(buffer, 0, buffer.length)) >= 0; ) {
      drained += n;
    }
    return drained;
  }

  /** Lower-case hex SHA-256 of every byte read, or null if no digest was asked for. */
  public String sha256() {
    return digest == null ? null : HexFormat.of().formatHex(digest.digest());
  }

  @Override
  public int read() throws IOException {
    int b = in.read();
    if (b >= 0) {
      count++;
      if (digest != null) {
        digest.update((byte) b);
      }
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0) {
      count += n;
      if (digest != null) {
        digest.update(b, off, n);
      }
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    // Skipping would bypass the digest; read instead.
    byte[] buffer = new byte[(int) Math.min(n, 1 << 16)];
    long skipped = 0;
    while (skipped < n) {
      int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
      if (r < 0) {
        break;
      }
      skipped += r;
    }
    return skipped;
  }

  @Override
  public boolean markSupported() {
    return false;
  }
}
