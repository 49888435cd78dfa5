package dev.kiln.examples;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.TrackerContext;

/**
 * Makes {@link CsvTracker} available as {@code csv}. Registered in {@code
 * META-INF/services/dev.kiln.tracking.ExperimentTrackerProvider}.
 */
public final class CsvTrackerProvider implements ExperimentTrackerProvider {
  @Override
  public String name() {
    return "csv";
  }

  @Override
  public ExperimentTracker create(TrackerContext context) {
    return new CsvTracker(context.runDirectory().resolve("metrics.csv"));
  }
}
