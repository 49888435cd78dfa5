package dev.kiln.checkpoint;

import java.util.Objects;
import java.util.Optional;

/**
 * Which committed checkpoints survive pruning. A checkpoint is kept if any rule keeps it:
 *
 * <ul>
 *   <li>{@code keepLast(n)}: the {@code n} newest (by step); default 3.
 *   <li>{@code keepBest(k, metric, direction)}: the {@code k} with the best finite value of {@code
 *       metric}; ties keep the older one. Default off.
 *   <li>{@code keepEveryEpochs(m)}: for every epoch that is a positive multiple of {@code m}, the
 *       newest checkpoint of that epoch. Default 0 (off).
 * </ul>
 *
 * <p>The checkpoint just saved is always kept. Pruning runs only after a save has committed.
 */
public final class Retention {

  /** Whether lower or higher metric values are better. */
  public enum Direction {
    /** Lower is better, e.g. a loss. */
    MIN,
    /** Higher is better, e.g. an accuracy. */
    MAX
  }

  private static final Retention DEFAULT = builder().build();

  private final int keepLast;
  private final int keepBest;
  private final String bestMetric;
  private final Direction bestDirection;
  private final int keepEveryEpochs;

  private Retention(Builder builder) {
    this.keepLast = builder.keepLast;
    this.keepBest = builder.keepBest;
    this.bestMetric = builder.bestMetric;
    this.bestDirection = builder.bestDirection;
    this.keepEveryEpochs = builder.keepEveryEpochs;
  }

  /** Keeps the last 3. */
  public static Retention defaults() {
    return DEFAULT;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.keepLast = keepLast;
    b.keepBest = keepBest;
    b.bestMetric = bestMetric;
    b.bestDirection = bestDirection;
    b.keepEveryEpochs = keepEveryEpochs;
    return b;
  }

  public int keepLast() {
    return keepLast;
  }

  /** How many best checkpoints to keep; 0 when off. */
  public int keepBest() {
    return keepBest;
  }

  /** The metric {@link #keepBest()} ranks by; empty when off. */
  public Optional<String> bestMetric() {
    return Optional.ofNullable(bestMetric);
  }

  public Direction bestDirection() {
    return bestDirection;
  }

  /** The epoch period; 0 when off. */
  public int keepEveryEpochs() {
    return keepEveryEpochs;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Retention r
        && keepLast == r.keepLast
        && keepBest == r.keepBest
        && Objects.equals(bestMetric, r.bestMetric)
        && bestDirection == r.bestDirection
        && keepEveryEpochs == r.keepEveryEpochs;
  }

  @Override
  public int hashCode() {
    return Objects.hash(keepLast, keepBest, bestMetric, bestDirection, keepEveryEpochs);
  }

  @Override
  public String toString() {
    return "Retention{keepLast="
        + keepLast
        + (keepBest > 0 ? ", keepBest=" + keepBest + " by " + bestDirection + " " + bestMetric : "")
        + (keepEveryEpochs > 0 ? ", keepEveryEpochs=" + keepEveryEpochs : "")
        + "}";
  }

  /** Builds a {@link Retention}. */
  public static final class Builder {
    private int keepLast = 3;
    private int keepBest = 0;
    private String bestMetric;
    private Direction bestDirection = Direction.MIN;
    private int keepEveryEpochs = 0;

    private Builder() {}

    /** Keeps the {@code n} newest checkpoints; {@code n >= 1}, default 3. */
    public Builder keepLast(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("keepLast < 1: " + n);
      }
      this.keepLast = n;
      return this;
    }

    /**
     * Also keeps the {@code k} checkpoints with the best value of {@code metric} (see {@link
     * CheckpointRequest#metrics()}); {@code k == 0} turns this off. Checkpoints without the metric,
     * or with a NaN or infinite value, are never among the best.
     */
    public Builder keepBest(int k, String metric, Direction direction) {
      if (k < 0) {
        throw new IllegalArgumentException("keepBest < 0: " + k);
      }
      Objects.requireNonNull(direction, "direction == null");
      if (k > 0 && (metric == null || metric.isBlank())) {
        throw new IllegalArgumentException(
            "keepBest metric is blank: name the metric to rank by, e.g. \"test_loss\"");
      }
      this.keepBest = k;
      this.bestMetric = k == 0 ? null : metric;
      this.bestDirection = direction;
      return this;
    }

    /**
     * Also keeps the newest checkpoint of every epoch that is a positive multiple of {@code m}; 0
     * turns it off.
     */
    public Builder keepEveryEpochs(int m) {
      if (m < 0) {
        throw new IllegalArgumentException("keepEveryEpochs < 0: " + m);
      }
      this.keepEveryEpochs = m;
      return this;
    }

    public Retention build() {
      return new Retention(this);
    }
  }
}
