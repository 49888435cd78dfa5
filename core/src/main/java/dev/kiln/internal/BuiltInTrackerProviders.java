package dev.kiln.internal;

import dev.kiln.tracking.ConsoleTracker;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.JsonlTracker;
import dev.kiln.tracking.TrackerContext;

/** Providers of the trackers built into core. */
public final class BuiltInTrackerProviders {
  private BuiltInTrackerProviders() {}

  /** {@code console}. */
  public static final class Console implements ExperimentTrackerProvider {
    @Override
    public String name() {
      return "console";
    }

    @Override
    public ExperimentTracker create(TrackerContext context) {
      return new ConsoleTracker();
    }
  }

  /** {@code jsonl}. */
  public static final class Jsonl implements ExperimentTrackerProvider {
    @Override
    public String name() {
      return "jsonl";
    }

    @Override
    public ExperimentTracker create(TrackerContext context) {
      return new JsonlTracker(context.runDirectory());
    }
  }
}
