package dev.kiln.tracking;

/**
 * Creates a tracker by name; found with {@link java.util.ServiceLoader}.
 *
 * <p>Register an implementation in {@code
 * META-INF/services/dev.kiln.tracking.ExperimentTrackerProvider}. A run activates it when its
 * {@link #name()} is listed in the trainer config's tracker names or in {@code KILN_TRACKERS}.
 */
public interface ExperimentTrackerProvider {

  /** The name that activates this tracker, e.g. {@code "tensorboard"}. Lower case. */
  String name();

  /**
   * Creates the tracker for one run.
   *
   * @throws Exception if it cannot be created; Kiln reports it and goes on without this tracker
   *     unless the run was told to fail on tracker errors
   */
  ExperimentTracker create(TrackerContext context) throws Exception;
}
