package dev.kiln;

import dev.kiln.checkpoint.Verification;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * When {@link Trainer#fit} writes checkpoints into {@code <run dir>/checkpoints} and which it
 * keeps. Any trigger that fires saves; pruning happens only after a save has committed.
 */
public final class CheckpointPolicy {

  private final boolean enabled;
  private final int everyEpochs;
  private final long everySteps;
  private final Duration interval;
  private final int keepLast;
  private final int keepBest;
  private final String bestMetric;
  private final boolean bestHigher;
  private final int keepEveryEpochs;
  private final boolean async;
  private final Verification verification;

  private CheckpointPolicy(Builder b) {
    enabled = b.enabled;
    everyEpochs = b.everyEpochs;
    everySteps = b.everySteps;
    interval = b.interval;
    keepLast = b.keepLast;
    keepBest = b.keepBest;
    bestMetric = b.bestMetric;
    bestHigher = b.bestHigher;
    keepEveryEpochs = b.keepEveryEpochs;
    async = b.async;
    verification = b.verification;
  }

  /** A policy that never writes checkpoints (and makes resume impossible). */
  public static CheckpointPolicy none() {
    return builder().enabled(false).build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.enabled = enabled;
    b.everyEpochs = everyEpochs;
    b.everySteps = everySteps;
    b.interval = interval;
    b.keepLast = keepLast;
    b.keepBest = keepBest;
    b.bestMetric = bestMetric;
    b.bestHigher = bestHigher;
    b.keepEveryEpochs = keepEveryEpochs;
    b.async = async;
    b.verification = verification;
    return b;
  }

  public boolean enabled() {
    return enabled;
  }

  public int everyEpochs() {
    return everyEpochs;
  }

  public long everySteps() {
    return everySteps;
  }

  public Optional<Duration> interval() {
    return Optional.ofNullable(interval);
  }

  public int keepLast() {
    return keepLast;
  }

  public int keepBest() {
    return keepBest;
  }

  public String bestMetric() {
    return bestMetric;
  }

  public boolean bestHigher() {
    return bestHigher;
  }

  public int keepEveryEpochs() {
    return keepEveryEpochs;
  }

  /** Whether checkpoints are written by a background thread. */
  public boolean async() {
    return async;
  }

  /** How a resume checks the checkpoint's bytes. */
  public Verification verification() {
    return verification;
  }

  Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("enabled", enabled);
    m.put("every_epochs", everyEpochs);
    m.put("every_steps", everySteps);
    m.put("interval_seconds", interval == null ? 0 : interval.toSeconds());
    m.put("keep_last", keepLast);
    m.put("keep_best", keepBest);
    m.put("best_metric", bestMetric);
    m.put("keep_every_epochs", keepEveryEpochs);
    m.put("async", async);
    m.put("verification", verification.name());
    return m;
  }

  /** Builds a {@link CheckpointPolicy}. */
  public static final class Builder {
    private boolean enabled = true;
    private int everyEpochs = 1;
    private long everySteps;
    private Duration interval;
    private int keepLast = 3;
    private int keepBest;
    private String bestMetric = "val_loss";
    private boolean bestHigher;
    private int keepEveryEpochs;
    private boolean async;
    private Verification verification = Verification.CRC32C;

    private Builder() {}

    /**
     * Write checkpoints on a background thread: the training thread only waits for the tensors to
     * be copied to host memory (and for the previous save, if still running). A failed background
     * save fails the run at the next checkpoint or at the end of {@code fit}, never silently. The
     * final checkpoint on a signal or deadline is always written before {@code fit} returns.
     * Default false.
     */
    public Builder async(boolean async) {
      this.async = async;
      return this;
    }

    /**
     * How a resume checks every byte of a checkpoint (and of the mirror's): the CRC32C of each part
     * (default, about as fast as reading) or each file's SHA-256 ({@link Verification#SHA256},
     * about 1 CPU-second per GB). Manifests always hold both.
     */
    public Builder verification(Verification verification) {
      this.verification = Objects.requireNonNull(verification, "verification");
      return this;
    }

    /** Whether checkpoints are written at all. Default true. */
    public Builder enabled(boolean enabled) {
      this.enabled = enabled;
      return this;
    }

    /** Save after every n-th epoch; 0 = not by epoch. Default 1. */
    public Builder everyEpochs(int n) {
      this.everyEpochs = n;
      return this;
    }

    /** Save every n optimizer steps, mid-epoch included; 0 = not by step. Default 0. */
    public Builder everySteps(long n) {
      this.everySteps = n;
      return this;
    }

    /** Save when this much time has passed since the last save. Default: off. */
    public Builder interval(Duration interval) {
      this.interval = Objects.requireNonNull(interval, "interval");
      return this;
    }

    /** Keep the newest n checkpoints. Default 3. */
    public Builder keepLast(int n) {
      this.keepLast = n;
      return this;
    }

    /**
     * Also keep the best n checkpoints by an epoch metric, e.g. {@code keepBest(1, "val_loss",
     * false)} keeps the one with the lowest validation loss. Default: none.
     */
    public Builder keepBest(int n, String metric, boolean higherIsBetter) {
      this.keepBest = n;
      this.bestMetric = Objects.requireNonNull(metric, "metric");
      this.bestHigher = higherIsBetter;
      return this;
    }

    /** Also keep the checkpoint of every m-th epoch; 0 = off. Default 0. */
    public Builder keepEveryEpochs(int m) {
      this.keepEveryEpochs = m;
      return this;
    }

    /** Builds the policy; throws naming the field when a value is out of range. */
    public CheckpointPolicy build() {
      if (everyEpochs < 0) {
        throw new IllegalArgumentException("everyEpochs must be >= 0: " + everyEpochs);
      }
      if (everySteps < 0) {
        throw new IllegalArgumentException("everySteps must be >= 0: " + everySteps);
      }
      if (interval != null && (interval.isNegative() || interval.isZero())) {
        throw new IllegalArgumentException("interval must be positive: " + interval);
      }
      if (keepLast < 1) {
        throw new IllegalArgumentException("keepLast must be >= 1: " + keepLast);
      }
      if (keepBest < 0) {
        throw new IllegalArgumentException("keepBest must be >= 0: " + keepBest);
      }
      if (keepEveryEpochs < 0) {
        throw new IllegalArgumentException("keepEveryEpochs must be >= 0: " + keepEveryEpochs);
      }
      return new CheckpointPolicy(this);
    }
  }
}
