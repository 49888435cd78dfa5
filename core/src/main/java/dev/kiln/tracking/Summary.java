package dev.kiln.tracking;

import java.util.Map;

/**
 * The run's summary: the latest value of each metric plus bests (e.g. {@code best_test_loss}).
 *
 * @param step the global step the summary describes
 * @param values metric name to value
 */
public record Summary(long step, Map<String, Double> values) {
  public Summary {
    values = Map.copyOf(values);
  }
}
