package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class StopSignalTest {
  static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

  static StopSignal deadlineIn(long seconds) {
    return new StopSignal(NOW.plusSeconds(seconds), Clock.fixed(NOW, ZoneOffset.UTC));
  }

  @Test
  void theDeadlineStopsTrainingOnlyWhenTwoSavesTwoStepsAndTheMarginNoLongerFit() {
    StopSignal stop = deadlineIn(60);
    stop.observeStep(2);
    // need = 2 * 20 (save) + 2 * 2 (step) + 5 (margin) = 49 s < 60 s
    assertThat(stop.requested(20)).isFalse();
    // need = 2 * 30 + 4 + 5 = 69 s > 60 s
    assertThat(stop.requested(30)).isTrue();
    assertThat(stop.reason()).contains("deadline").contains("a save needs about 30 s");
  }

  @Test
  void aLongValidationIsKeptFreeBeforeTheDeadline() {
    StopSignal stop = deadlineIn(60);
    stop.observeStep(1);
    assertThat(stop.requested(10)).isFalse();
    stop.observeValidation(40); // 2 * 10 + 2 * 1 + 40 + 5 = 67 s > 60 s
    assertThat(stop.requested(10)).isTrue();
  }

  @Test
  void aRequestedStopWinsWithoutADeadline() {
    StopSignal stop = new StopSignal(null, Clock.systemUTC());
    assertThat(stop.requested(10)).isFalse();
    stop.request("SIGTERM");
    assertThat(stop.requested(10)).isTrue();
    assertThat(stop.reason()).isEqualTo("SIGTERM");
  }
}
