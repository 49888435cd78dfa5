package dev.kiln.wandb;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.TrackerContext;

/**
 * Creates the {@code wandb} tracker for Kiln's {@link java.util.ServiceLoader}. Settings come from
 * {@link TrackerContext#settings()} ({@code WANDB_*} environment variables overlaid by system
 * properties and the trainer config), and the run's clock.
 */
public final class WandbTrackerProvider implements ExperimentTrackerProvider {

  /** Used by {@link java.util.ServiceLoader}. */
  public WandbTrackerProvider() {}

  @Override
  public String name() {
    return "wandb";
  }

  /**
   * @throws IllegalArgumentException naming the setting when one is invalid (e.g. WANDB_MODE)
   */
  @Override
  public ExperimentTracker create(TrackerContext context) {
    WandbConfig config = WandbConfig.builder().environment(context.settings()).build();
    return WandbTracker.builder(config).clock(context.clock()).build();
  }
}
