package dev.kiln.checkpoint.internal;

import java.util.Comparator;
import java.util.Optional;

/**
 * The name of a committed checkpoint directory: {@code ckpt-<step, 12 digits>-e<epoch, 4 digits>},
 * plus {@code .<n>} when a checkpoint with the same step and epoch already existed. Names order by
 * step, then revision.
 */
public record CheckpointName(long step, int epoch, int revision)
    implements Comparable<CheckpointName> {

  /**
   * Prefix of every directory a save or a prune is still working on; never a committed checkpoint.
   */
  public static final String TEMP_PREFIX = ".tmp-";

  private static final Comparator<CheckpointName> ORDER =
      Comparator.comparingLong(CheckpointName::step)
          .thenComparingInt(CheckpointName::revision)
          .thenComparingInt(CheckpointName::epoch);

  /**
   * The checkpoint a directory name stands for: {@code ckpt-} and 12 to 19 digits, {@code -e} and 4
   * to 10 digits, optionally {@code .} and 1 to 9 digits; else empty. (Parsed by hand: a store
   * parses every name in its directory on each save, before the JIT has compiled much.)
   */
  public static Optional<CheckpointName> parse(String directoryName) {
    String s = directoryName;
    if (!s.startsWith("ckpt-")) {
      return Optional.empty();
    }
    int stepEnd = digitsEnd(s, 5);
    int stepDigits = stepEnd - 5;
    if (stepDigits < 12 || stepDigits > 19 || !s.startsWith("-e", stepEnd)) {
      return Optional.empty();
    }
    int epochStart = stepEnd + 2;
    int epochEnd = digitsEnd(s, epochStart);
    int epochDigits = epochEnd - epochStart;
    if (epochDigits < 4 || epochDigits > 10) {
      return Optional.empty();
    }
    int revisionEnd = epochEnd;
    if (epochEnd < s.length()) {
      if (s.charAt(epochEnd) != '.') {
        return Optional.empty();
      }
      revisionEnd = digitsEnd(s, epochEnd + 1);
      int revisionDigits = revisionEnd - epochEnd - 1;
      if (revisionDigits < 1 || revisionDigits > 9 || revisionEnd != s.length()) {
        return Optional.empty();
      }
    }
    try {
      long step = Long.parseLong(s, 5, stepEnd, 10);
      int epoch = Integer.parseInt(s, epochStart, epochEnd, 10);
      int revision =
          revisionEnd == epochEnd ? 0 : Integer.parseInt(s, epochEnd + 1, revisionEnd, 10);
      return Optional.of(new CheckpointName(step, epoch, revision));
    } catch (NumberFormatException e) {
      return Optional.empty(); // too large for a long or an int
    }
  }

  /** The index after the ASCII digits of {@code s} that start at {@code from}. */
  private static int digitsEnd(String s, int from) {
    int i = from;
    while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
      i++;
    }
    return i;
  }

  public CheckpointName withRevision(int newRevision) {
    return new CheckpointName(step, epoch, newRevision);
  }

  @Override
  public int compareTo(CheckpointName other) {
    return ORDER.compare(this, other);
  }

  @Override
  public String toString() {
    StringBuilder name = new StringBuilder(32).append("ckpt-");
    appendPadded(name, step, 12);
    name.append("-e");
    appendPadded(name, epoch, 4);
    if (revision != 0) {
      name.append('.').append(revision);
    }
    return name.toString();
  }

  // Written out rather than generated: a store compares names on each save, mostly before the JIT
  // has compiled the generated versions.
  @Override
  public boolean equals(Object other) {
    return other instanceof CheckpointName o
        && step == o.step
        && epoch == o.epoch
        && revision == o.revision;
  }

  @Override
  public int hashCode() {
    return (Long.hashCode(step) * 31 + epoch) * 31 + revision;
  }

  /**
   * Appends {@code value} with leading zeros to {@code width} characters, as {@code %0<width>d}.
   */
  private static void appendPadded(StringBuilder to, long value, int width) {
    String digits = Long.toString(value);
    int start = 0;
    if (value < 0) {
      to.append('-');
      start = 1;
      width--;
    }
    for (int i = digits.length() - start; i < width; i++) {
      to.append('0');
    }
    to.append(digits, start, digits.length());
  }
}
