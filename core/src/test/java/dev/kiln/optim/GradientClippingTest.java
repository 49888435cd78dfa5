package dev.kiln.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GradientClippingTest {

  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  @Test
  void clipByGlobalNormScalesAllGradientsTogetherAndReturnsTheNormBefore() {
    NDArray a = manager.create(new float[] {3f, 0f});
    NDArray b = manager.create(new float[] {0f, -4f, 0f}); // global norm 5

    double norm = GradientClipping.clipByGlobalNorm(List.of(a, b), 1.0);

    assertThat(norm).isCloseTo(5.0, within(1e-6));
    double factor = 1.0 / (5.0 + 1e-6);
    assertThat(a.toFloatArray())
        .containsExactly(new float[] {(float) (3 * factor), 0f}, within(1e-7f));
    assertThat(b.toFloatArray())
        .containsExactly(new float[] {0f, (float) (-4 * factor), 0f}, within(1e-7f));
  }

  @Test
  void clipByGlobalNormLeavesGradientsBelowTheLimitUntouched() {
    NDArray a = manager.create(new float[] {0.3f, -0.4f});

    double norm = GradientClipping.clipByGlobalNorm(List.of(a), 1.0);

    assertThat(norm).isCloseTo(0.5, within(1e-7));
    assertThat(a.toFloatArray()).containsExactly(0.3f, -0.4f);
  }

  @Test
  void clipByValueClampsBothSigns() {
    NDArray a = manager.create(new float[] {-3f, -0.5f, 0.2f, 7f});

    GradientClipping.clipByValue(List.of(a), 1.0);

    assertThat(a.toFloatArray()).containsExactly(-1f, -0.5f, 0.2f, 1f);
  }

  @Test
  void clippingChangesAParametersRecordedGradient() {
    NDArray w = manager.create(new float[] {1f, -2f, 3f});
    w.setRequiresGradient(true);
    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      collector.backward(w.square().sum()); // gradient 2w = 2, -4, 6
    }

    GradientClipping.clipByValue(List.of(w.getGradient()), 3.0);
    assertThat(w.getGradient().toFloatArray()).containsExactly(2f, -3f, 3f);

    GradientClipping.clipByGlobalNorm(List.of(w.getGradient()), 1e-3);
    assertThat((double) w.getGradient().norm().getFloat()).isCloseTo(1e-3, within(1e-6));
  }

  @Test
  void negativeLimitsAreRejected() {
    assertThatThrownBy(() -> GradientClipping.clipByGlobalNorm(List.of(), -1))
        .hasMessage("maxNorm must be finite and >= 0: -1.0");
    assertThatThrownBy(() -> GradientClipping.clipByValue(List.of(), -1))
        .hasMessage("clip must be finite and >= 0: -1.0");
  }
}
