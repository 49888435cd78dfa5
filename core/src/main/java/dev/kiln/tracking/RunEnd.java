package dev.kiln.tracking;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The end of a run in this process.
 *
 * @param outcome how it ended
 * @param step the last global step reached
 * @param epoch completed epochs
 * @param time when it ended
 * @param failure for {@link Outcome#FAILED}, the cause as text (type and message); else empty
 */
public record RunEnd(
    Outcome outcome, long step, int epoch, Instant time, Optional<String> failure) {

  /** How a run ended. */
  public enum Outcome {
    /** All epochs done. */
    FINISHED,
    /** Training threw; see {@link RunEnd#failure()}. */
    FAILED,
    /** Stopped by a signal or deadline after a final checkpoint; resumable. */
    INTERRUPTED
  }

  public RunEnd {
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(time, "time");
    Objects.requireNonNull(failure, "failure");
  }
}
