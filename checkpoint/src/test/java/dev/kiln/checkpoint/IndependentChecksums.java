package dev.kiln.checkpoint;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Checksums computed straight with the JDK, to compare what the store records against: tests never
 * take an expected value from the code under test.
 */
public final class IndependentChecksums {

  private IndependentChecksums() {}

  /** Lowercase hex SHA-256 of {@code data}. */
  public static String sha256(byte[] data) {
    return sha256(data, 0, data.length);
  }

  /** Lowercase hex SHA-256 of {@code length} bytes from {@code offset}. */
  public static String sha256(byte[] data, int offset, int length) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(data, offset, length);
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /** Hex CRC32C (8 lowercase digits) of {@code length} bytes from {@code offset}. */
  public static String crc32c(byte[] data, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(data, offset, length);
    return String.format("%08x", crc.getValue());
  }

  /** Hex CRC32C of each {@code partSize} piece of {@code data}, the last one shorter. */
  public static List<String> partCrc32cs(byte[] data, int partSize) {
    List<String> parts = new ArrayList<>();
    for (int offset = 0; offset < data.length; offset += partSize) {
      parts.add(crc32c(data, offset, Math.min(partSize, data.length - offset)));
    }
    return parts;
  }
}
