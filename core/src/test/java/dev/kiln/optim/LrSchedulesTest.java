package dev.kiln.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LrSchedulesTest {

  private static double[] over(LrSchedule schedule, double base, int positions) {
    double[] lr = new double[positions];
    for (int t = 0; t < positions; t++) {
      lr[t] = schedule.learningRate(base, t);
    }
    return lr;
  }

  @Test
  void constantIsTheBaseRate() {
    assertThat(over(LrSchedules.constant(), 0.3, 3)).containsExactly(0.3, 0.3, 0.3);
    assertThat(LrSchedules.constant().describe()).isEqualTo(Map.of("name", "constant"));
  }

  @Test
  void stepDecaysByGammaEveryStepSize() {
    assertThat(over(LrSchedules.step(1, 0.7), 1.0, 4))
        .containsExactly(new double[] {1, 0.7, 0.49, 0.343}, within(1e-12));
    assertThat(over(LrSchedules.step(3, 0.1), 2.0, 7))
        .containsExactly(new double[] {2, 2, 2, 0.2, 0.2, 0.2, 0.02}, within(1e-12));
    assertThat(LrSchedules.step(3, 0.1).describe())
        .containsExactly(
            Map.entry("name", "step"), Map.entry("stepSize", 3L), Map.entry("gamma", 0.1));
  }

  @Test
  void multiStepDecaysAtEachMilestoneReachedCountingRepeats() {
    LrSchedule schedule = LrSchedules.multiStep(List.of(5L, 2L, 5L), 0.5);

    assertThat(over(schedule, 1.0, 7)).containsExactly(1, 1, 0.5, 0.5, 0.5, 0.125, 0.125);
    assertThat(schedule.describe()).containsEntry("milestones", List.of(2L, 5L, 5L));
  }

  @Test
  void cosineFollowsTheClosedFormAndHoldsItsMinimumAfterThePeriod() {
    LrSchedule schedule = LrSchedules.cosine(4, 0.1);

    double[] lr = over(schedule, 1.1, 7);

    assertThat(lr)
        .containsExactly(
            new double[] {
              1.1,
              0.1 + 0.5 * (1 + Math.cos(Math.PI / 4)),
              0.6,
              0.1 + 0.5 * (1 + Math.cos(3 * Math.PI / 4)),
              0.1,
              0.1,
              0.1
            },
            within(1e-12));
    assertThat(schedule.describe())
        .isEqualTo(Map.of("name", "cosine", "period", 4L, "minLearningRate", 0.1));
  }

  @Test
  void linearWarmupRisesToTheBaseRateThenHandsOverAtItsOwnPositionZero() {
    LrSchedule schedule = LrSchedules.linearWarmup(4, LrSchedules.step(1, 0.5));

    assertThat(over(schedule, 1.0, 7))
        .containsExactly(new double[] {0.25, 0.5, 0.75, 1, 1, 0.5, 0.25}, within(1e-12));
    assertThat(schedule.describe())
        .containsEntry("name", "linearWarmup")
        .containsEntry("warmupLength", 4L)
        .containsEntry("after", LrSchedules.step(1, 0.5).describe());
    assertThat(LrSchedules.linearWarmup(0, LrSchedules.constant()).learningRate(0.2, 0))
        .isEqualTo(0.2);
  }

  @Test
  void schedulesAreValuesAndPureFunctions() {
    LrSchedule a = LrSchedules.linearWarmup(2, LrSchedules.cosine(10, 0));

    assertThat(a).isEqualTo(LrSchedules.linearWarmup(2, LrSchedules.cosine(10, 0)));
    assertThat(a.learningRate(0.1, 7)).isEqualTo(a.learningRate(0.1, 7));
  }

  @Test
  void invalidArgumentsAreRejectedNamingTheField() {
    assertThatThrownBy(() -> LrSchedules.step(0, 0.5)).hasMessage("stepSize must be > 0: 0");
    assertThatThrownBy(() -> LrSchedules.step(1, -0.5))
        .hasMessage("gamma must be finite and > 0: -0.5");
    assertThatThrownBy(() -> LrSchedules.multiStep(List.of(3L, -1L), 0.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("milestones");
    assertThatThrownBy(() -> LrSchedules.cosine(0, 0)).hasMessage("period must be > 0: 0");
    assertThatThrownBy(() -> LrSchedules.linearWarmup(-1, LrSchedules.constant()))
        .hasMessage("warmupLength must be >= 0: -1");
    assertThatThrownBy(() -> LrSchedules.constant().learningRate(0.1, -1))
        .hasMessage("t must be >= 0: -1");
  }
}
