package dev.kiln.tracking;

import java.time.Instant;
import java.util.Objects;

/**
 * Training was asked to stop early: it finishes the current step, writes a final checkpoint, then
 * ends with {@link RunEnd.Outcome#INTERRUPTED}.
 *
 * @param reason why, e.g. {@code "SIGTERM"} or the deadline and the time left
 * @param step the last global step reached
 * @param epoch completed epochs
 * @param time when training noticed the request
 */
public record StopRequest(String reason, long step, int epoch, Instant time) {

  public StopRequest {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(time, "time");
  }
}
