package dev.kiln.internal;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.TrackerContext;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Finds tracker providers with {@link ServiceLoader} and creates the trackers a run names. */
public final class TrackerLoader {

  private static final Logger log = LoggerFactory.getLogger(TrackerLoader.class);

  private final Map<String, ExperimentTrackerProvider> providers = new LinkedHashMap<>();

  /** Loads every provider visible to {@code loader}; one that fails to load is reported. */
  public TrackerLoader(ClassLoader loader) {
    Iterator<ExperimentTrackerProvider> it =
        ServiceLoader.load(ExperimentTrackerProvider.class, loader).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        ExperimentTrackerProvider p = it.next();
        providers.putIfAbsent(p.name().toLowerCase(Locale.ROOT), p);
      } catch (ServiceConfigurationError e) {
        log.warn("A tracker provider failed to load and is skipped: {}", e.getMessage(), e);
      }
    }
  }

  /** Names of the providers found. */
  public List<String> available() {
    return List.copyOf(providers.keySet());
  }

  /**
   * Checks that every name has a provider.
   *
   * @throws IllegalArgumentException naming the unknown tracker and those available
   */
  public void check(List<String> names) {
    for (String name : names) {
      if (!providers.containsKey(name.toLowerCase(Locale.ROOT).trim())) {
        throw new IllegalArgumentException(
            "Unknown tracker '"
                + name
                + "': the trackers on the class path are "
                + available()
                + " — fix the name, or add the module that provides it (e.g."
                + " kiln-tracking-tensorboard, kiln-tracking-wandb)");
      }
    }
  }

  /** Result of creating trackers: those created and the failures of the others by name. */
  public record Created(List<ExperimentTracker> trackers, Map<String, Exception> failures) {}

  /** Creates the named trackers; a provider that throws is recorded in the failures. */
  public Created create(List<String> names, TrackerContext context) {
    check(names);
    List<ExperimentTracker> created = new ArrayList<>();
    Map<String, Exception> failures = new LinkedHashMap<>();
    for (String raw : names) {
      String name = raw.toLowerCase(Locale.ROOT).trim();
      try {
        created.add(providers.get(name).create(context));
      } catch (Exception | LinkageError e) {
        Exception ex = e instanceof Exception x ? x : new RuntimeException(e);
        failures.put(name, ex);
        log.warn("Tracker '{}' could not be created: {}", name, e.toString());
      }
    }
    return new Created(created, failures);
  }
}
