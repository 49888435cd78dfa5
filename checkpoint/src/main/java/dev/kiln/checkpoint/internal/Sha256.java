package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 of files, read in large chunks. */
public final class Sha256 {

  private static final int CHUNK = 1 << 20;

  private Sha256() {}

  /** Size and hex SHA-256 of a file, from one read. */
  public record Digest(long size, String sha256) {}

  /** Reads the whole file once. */
  public static Digest of(Path file) throws IOException {
    MessageDigest digest = newDigest();
    byte[] chunk = new byte[CHUNK];
    ByteBuffer buffer = ByteBuffer.wrap(chunk);
    long size = 0;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      int n;
      while ((n = channel.read(buffer)) >= 0) {
        digest.update(chunk, 0, n);
        size += n;
        buffer.clear();
      }
    }
    return new Digest(size, HexFormat.of().formatHex(digest.digest()));
  }

  public static String of(byte[] bytes) {
    return HexFormat.of().formatHex(newDigest().digest(bytes));
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every Java platform supports SHA-256", e);
    }
  }
}
