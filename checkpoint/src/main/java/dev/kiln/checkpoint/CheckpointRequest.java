package dev.kiln.checkpoint;

import dev.kiln.checkpoint.internal.JsonValues;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What to record about one checkpoint besides its files.
 *
 * @param epoch epoch number, {@code >= 0}; part of the directory name
 * @param step global step, {@code >= 0}; checkpoints are ordered by it
 * @param metrics named metric values, used by {@link Retention.Builder#keepBest}; NaN and
 *     infinities are allowed and never count as best
 * @param metadata plain JSON values: String, Number, Boolean, null, List and Map with String keys.
 *     Numbers read back as Integer, Long, BigInteger or Double, whichever fits.
 */
public record CheckpointRequest(
    int epoch, long step, Map<String, Double> metrics, Map<String, Object> metadata) {

  public CheckpointRequest {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch < 0: " + epoch);
    }
    if (step < 0) {
      throw new IllegalArgumentException("step < 0: " + step);
    }
    Objects.requireNonNull(metrics, "metrics == null");
    Objects.requireNonNull(metadata, "metadata == null");
    LinkedHashMap<String, Double> metricsCopy = new LinkedHashMap<>();
    metrics.forEach(
        (name, value) -> {
          if (name == null || value == null) {
            throw new IllegalArgumentException(
                "metrics has a null name or value: " + name + "=" + value);
          }
          metricsCopy.put(name, value);
        });
    metrics = Collections.unmodifiableMap(metricsCopy);
    metadata = JsonValues.copyObject(metadata, "metadata");
  }

  /** A request with no metrics and no metadata. */
  public static CheckpointRequest of(int epoch, long step) {
    return new CheckpointRequest(epoch, step, Map.of(), Map.of());
  }

  public static Builder builder(int epoch, long step) {
    return new Builder(epoch, step);
  }

  public Builder toBuilder() {
    Builder builder = new Builder(epoch, step);
    builder.metrics.putAll(metrics);
    builder.metadata.putAll(metadata);
    return builder;
  }

  /** Builds a {@link CheckpointRequest}. */
  public static final class Builder {
    private final int epoch;
    private final long step;
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private final Map<String, Object> metadata = new LinkedHashMap<>();

    private Builder(int epoch, long step) {
      this.epoch = epoch;
      this.step = step;
    }

    /** Adds or replaces one metric. */
    public Builder metric(String name, double value) {
      metrics.put(Objects.requireNonNull(name, "name == null"), value);
      return this;
    }

    /** Adds or replaces the given metrics. */
    public Builder metrics(Map<String, Double> values) {
      metrics.putAll(values);
      return this;
    }

    /** Adds or replaces one metadata entry; {@code value} must be a plain JSON value. */
    public Builder metadata(String key, Object value) {
      metadata.put(Objects.requireNonNull(key, "key == null"), value);
      return this;
    }

    /** Adds or replaces the given metadata entries. */
    public Builder metadata(Map<String, ?> values) {
      metadata.putAll(values);
      return this;
    }

    public CheckpointRequest build() {
      return new CheckpointRequest(epoch, step, metrics, metadata);
    }
  }
}
