package dev.kiln.internal;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Decides when training must stop early: on SIGTERM or SIGINT (preemption, a notebook's stop
 * button), or when the deadline is so near that only a final checkpoint still fits.
 */
final class StopSignal {
  private static final Logger log = LoggerFactory.getLogger(StopSignal.class);

  /** Extra seconds kept free before the deadline beyond the measured save and step time. */
  static final double DEADLINE_MARGIN_SECONDS = 5;

  private final Instant deadline;
  private final Clock clock;
  private volatile String signal;
  private double stepSeconds;
  private double validationSeconds;
  private final List<Object[]> previous = new ArrayList<>();
  private String reason;

  StopSignal(Instant deadline, Clock clock) {
    this.deadline = deadline;
    this.clock = clock;
  }

  void install(boolean handleSignals) {
    if (!handleSignals) {
      return;
    }
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal s = new Signal(name);
        SignalHandler old =
            Signal.handle(
                s,
                sig -> {
                  if (signal != null) {
                    log.warn("Second SIG{}: stopping without waiting for the checkpoint", name);
                    Runtime.getRuntime().halt(128 + sig.getNumber());
                  }
                  signal = "SIG" + name;
                  log.warn(
                      "SIG{} received: finishing the current step, then writing a checkpoint",
                      name);
                });
        previous.add(new Object[] {s, old});
      } catch (IllegalArgumentException | UnsupportedOperationException e) {
        log.debug("cannot handle SIG{}: {}", name, e.toString());
      }
    }
  }

  void uninstall() {
    for (Object[] p : previous) {
      try {
        Signal.handle((Signal) p[0], (SignalHandler) p[1]);
      } catch (IllegalArgumentException e) {
        log.debug("cannot restore handler", e);
      }
    }
    previous.clear();
  }

  /** Records the duration of the last step (seconds), for deadline estimates. */
  void observeStep(double seconds) {
    stepSeconds = stepSeconds == 0 ? seconds : Math.max(seconds, 0.9 * stepSeconds + 0.1 * seconds);
  }

  /**
   * Records how long the last validation took: an epoch's last step is followed by a validation
   * that cannot be interrupted, so the deadline keeps room for one.
   */
  void observeValidation(double seconds) {
    validationSeconds = seconds;
  }

  /** Requests a stop programmatically (tests, embedding applications). */
  void request(String why) {
    signal = why;
  }

  /** Whether to stop now, given how long a save is expected to take. */
  boolean requested(double estimatedSaveSeconds) {
    if (signal != null) {
      reason = signal;
      return true;
    }
    if (deadline != null) {
      double left = (deadline.toEpochMilli() - clock.millis()) / 1000.0;
      double need =
          2 * estimatedSaveSeconds + 2 * stepSeconds + validationSeconds + DEADLINE_MARGIN_SECONDS;
      if (left <= need) {
        reason =
            String.format(
                "deadline %s in %.0f s, a save needs about %.0f s",
                deadline, left, estimatedSaveSeconds);
        return true;
      }
    }
    return false;
  }

  String reason() {
    return reason;
  }
}
