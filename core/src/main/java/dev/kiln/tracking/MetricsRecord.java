package dev.kiln.tracking;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * Metric values at one global step.
 *
 * <p>Epoch records carry, at the global step that ends the epoch, at least {@code epoch}, {@code
 * train_loss}, {@code lr}, {@code time_taken} (seconds of the training part), its split ({@code
 * time_data}, {@code time_compute}), {@code time_validation}, {@code time_tracking}, {@code
 * time_checkpoint}, {@code samples_per_sec}, and the validation metrics ({@code <prefix>_loss} and
 * one per evaluator, e.g. {@code test_acc}). Step records carry {@code train_loss} and {@code lr}.
 *
 * @param kind whether this closes an epoch or samples a step
 * @param step global step (optimizer updates so far); never decreases within a run
 * @param epoch 1-based epoch the values belong to
 * @param time wall-clock time the values were taken
 * @param values metric name to value; NaN and infinities are passed as they are
 * @param notes text beside the values, e.g. {@code verdict}; may be empty
 */
public record MetricsRecord(
    Kind kind,
    long step,
    int epoch,
    Instant time,
    Map<String, Double> values,
    Map<String, String> notes) {

  /** What a record closes. */
  public enum Kind {
    /** Sampled every N steps during an epoch. */
    STEP,
    /** The end of an epoch: training, validation and timing. */
    EPOCH
  }

  public MetricsRecord {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(time, "time");
    values = Map.copyOf(values);
    notes = Map.copyOf(notes);
  }
}
