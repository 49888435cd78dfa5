package dev.kiln.tensorboard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Reads TFRecord framing the way TensorBoard's record reader does (tensorboard-format.md §3–4):
 * both CRCs of every record are checked; a clean end, a truncated tail and a corrupt record are
 * told apart, and reading stops at the first bad record.
 */
public final class TfRecordReader {

  /** How a file's reading ended. */
  public enum End {
    /** Zero bytes left after the last record. */
    CLEAN,
    /** A partial record at the end: TensorBoard stops quietly and retries later. */
    TRUNCATED,
    /** A CRC mismatch: TensorBoard silently never shows this record or any after it. */
    CORRUPT
  }

  /** The valid records' payloads and how reading ended. */
  public record Result(List<byte[]> payloads, End end, String detail) {}

  private TfRecordReader() {}

  static long maskedCrc(byte[] bytes, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, offset, length);
    long c = crc.getValue();
    long rotated = ((c >>> 15) | (c << 17)) & 0xFFFFFFFFL;
    return (rotated + 0xA282EAD8L) & 0xFFFFFFFFL;
  }

  public static Result read(Path file) throws IOException {
    return read(Files.readAllBytes(file));
  }

  public static Result read(byte[] data) {
    ByteBuffer in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    List<byte[]> payloads = new ArrayList<>();
    while (true) {
      int at = in.position();
      if (in.remaining() == 0) {
        return new Result(payloads, End.CLEAN, "");
      }
      if (in.remaining() < 12) {
        return new Result(payloads, End.TRUNCATED, "short header at " + at);
      }
      long length = in.getLong();
      long headerCrc = in.getInt() & 0xFFFFFFFFL;
      if (headerCrc != maskedCrc(data, at, 8)) {
        return new Result(payloads, End.CORRUPT, "header crc mismatch at " + at);
      }
      if (length > Integer.MAX_VALUE || in.remaining() < length + 4) {
        return new Result(payloads, End.TRUNCATED, "short payload at " + at);
      }
      byte[] payload = new byte[(int) length];
      in.get(payload);
      long payloadCrc = in.getInt() & 0xFFFFFFFFL;
      if (payloadCrc != maskedCrc(payload, 0, payload.length)) {
        return new Result(payloads, End.CORRUPT, "payload crc mismatch at " + at);
      }
      payloads.add(payload);
    }
  }
}
