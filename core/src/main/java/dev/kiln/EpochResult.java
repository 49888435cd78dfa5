package dev.kiln;

import java.util.Map;

/**
 * One epoch's metrics and the verdict on its bottleneck.
 *
 * @param epoch 1-based epoch number within the run
 * @param step global step at the end of the epoch
 * @param metrics metric name to value, as sent to trackers (e.g. {@code train_loss}, {@code
 *     val_loss}, {@code val_accuracy}, {@code lr}, {@code time_taken}, {@code time_data}, {@code
 *     time_compute}, {@code time_validation}, {@code time_tracking}, {@code time_checkpoint},
 *     {@code samples_per_sec})
 * @param verdict e.g. {@code "input-bound: 63% of training waiting for data — raise workers (now
 *     1)"}
 */
public record EpochResult(int epoch, long step, Map<String, Double> metrics, String verdict) {
  public EpochResult {
    metrics = Map.copyOf(metrics);
  }

  /** A metric's value, or NaN when absent. */
  public double metric(String name) {
    return metrics.getOrDefault(name, Double.NaN);
  }
}
