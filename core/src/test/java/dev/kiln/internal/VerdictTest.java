package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class VerdictTest {
  @Test
  void waitingForDataMostOfTheTimeIsInputBoundAndNamesTheWorkerCount() {
    assertThat(Verdict.judge(10, 6.3, 1, 0, 0, 1))
        .isEqualTo(
            "input-bound: 63% of training waiting for data — raise workers (now 1) or make the"
                + " dataset's get() cheaper");
  }

  @Test
  void withoutWorkersTheFixIsToTurnThemOn() {
    assertThat(Verdict.judge(10, 5, 1, 0, 0, 0)).contains("turn on background loading");
  }

  @Test
  void littleWaitingIsComputeBound() {
    assertThat(Verdict.judge(10, 0.5, 1, 0.01, 0.2, 2))
        .startsWith("compute-bound: 95% of training computing");
  }

  @Test
  void slowCheckpointsTrackersAndValidationAreNamed() {
    assertThat(Verdict.judge(10, 0, 1, 0, 4, 1)).startsWith("checkpoint-bound");
    assertThat(Verdict.judge(10, 0, 1, 2, 0, 1)).startsWith("tracker-bound");
    assertThat(Verdict.judge(10, 0, 9, 0, 0, 1)).startsWith("validation-bound");
  }
}
