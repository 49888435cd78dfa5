package dev.kiln.tensorboard.internal;

import java.util.zip.CRC32C;

/**
 * TFRecord framing: {@code u64le length | u32le masked_crc32c(length) | payload | u32le
 * masked_crc32c(payload)}.
 */
final class Records {
  static final int HEADER_BYTES = 12;
  static final int FOOTER_BYTES = 4;
  private static final int MASK_DELTA = 0xA282EAD8;

  private final CRC32C crc = new CRC32C();

  /** TensorFlow's mask: rotate right by 15 bits, then add a constant. */
  static int mask(int crc) {
    return Integer.rotateRight(crc, 15) + MASK_DELTA;
  }

  int maskedCrc32c(byte[] bytes, int offset, int length) {
    crc.reset();
    crc.update(bytes, offset, length);
    return mask((int) crc.getValue());
  }

  /** Reserves the header; returns where the record starts. */
  static int begin(ProtoOutput out) {
    int start = out.size();
    out.skip(HEADER_BYTES);
    return start;
  }

  /** Fills in the header for the payload written since {@link #begin} and appends the footer. */
  void end(ProtoOutput out, int start) {
    int payloadStart = start + HEADER_BYTES;
    int length = out.size() - payloadStart;
    out.putFixed64At(start, length);
    out.putFixed32At(start + 8, maskedCrc32c(out.array(), start, 8));
    out.rawFixed32(maskedCrc32c(out.array(), payloadStart, length));
  }
}
