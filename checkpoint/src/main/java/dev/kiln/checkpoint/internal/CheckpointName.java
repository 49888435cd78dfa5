package dev.kiln.checkpoint.internal;

import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  private static final Pattern PATTERN =
      Pattern.compile("ckpt-(\\d{12,19})-e(\\d{4,10})(?:\\.(\\d{1,9}))?");

  private static final Comparator<CheckpointName> ORDER =
      Comparator.comparingLong(CheckpointName::step)
          .thenComparingInt(CheckpointName::revision)
          .thenComparingInt(CheckpointName::epoch);

  public static Optional<CheckpointName> parse(String directoryName) {
    Matcher m = PATTERN.matcher(directoryName);
    if (!m.matches()) {
      return Optional.empty();
    }
    try {
      long step = Long.parseLong(m.group(1));
      int epoch = Integer.parseInt(m.group(2));
      int revision = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
      return Optional.of(new CheckpointName(step, epoch, revision));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
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
    String base = String.format("ckpt-%012d-e%04d", step, epoch);
    return revision == 0 ? base : base + "." + revision;
  }
}
