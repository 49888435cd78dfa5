package dev.kiln.checkpoint;

/**
 * How loading checks a checkpoint's contents. Either way every byte is checked before a checkpoint
 * counts as valid, and sizes and the manifest are checked first.
 */
public enum Verification {
  /**
   * Checks the CRC32C of each part of each file (the default). It runs at memory speed on all cores
   * at once, so a load takes about as long as reading the files. It detects the damage checkpoints
   * meet: flipped bits, torn, truncated or zeroed writes, a file from another checkpoint; an
   * accidental change slips through with probability 2<sup>-32</sup> per part.
   */
  CRC32C,

  /**
   * Checks each file's SHA-256, as {@code sha256sum} would. About 1 CPU-second per GB, one core per
   * file; worth it only where a chance of 2<sup>-32</sup> is too high. It does not guard against
   * deliberate edits either: whoever can change a file can change the manifest beside it.
   */
  SHA256
}
