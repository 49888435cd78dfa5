package dev.kiln.tracking;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a provider may use to create its tracker.
 *
 * @param runDirectory the run's directory (it exists)
 * @param settings settings by name: environment variables overlaid by system properties, overlaid
 *     by the trainer config's tracker settings; e.g. {@code WANDB_PROJECT}
 * @param clock the run's clock
 */
public record TrackerContext(Path runDirectory, Map<String, String> settings, Clock clock) {
  public TrackerContext {
    Objects.requireNonNull(runDirectory, "runDirectory");
    settings = Map.copyOf(settings);
    Objects.requireNonNull(clock, "clock");
  }

  /** A setting, if present and not blank. */
  public Optional<String> setting(String name) {
    String value = settings.get(name);
    return value == null || value.isBlank() ? Optional.empty() : Optional.of(value);
  }
}
