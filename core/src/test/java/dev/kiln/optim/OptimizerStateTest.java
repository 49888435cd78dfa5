package dev.kiln.optim;

import static dev.kiln.optim.Fixtures.twoGradients;
import static dev.kiln.optim.Fixtures.twoParameters;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The {@link OptimizerState} contract, for every optimizer. */
class OptimizerStateTest {

  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  static Stream<Optimizer> optimizers() {
    return Stream.of(
        Sgd.builder().learningRate(0.1).build(),
        Sgd.builder().learningRate(0.1).momentum(0.9).nesterov(true).weightDecay(0.01).build(),
        Adam.builder().learningRate(0.05).build(),
        Adam.builder().learningRate(0.05).amsgrad(true).weightDecay(0.1).build(),
        AdamW.builder().learningRate(0.05).build(),
        Adadelta.builder().learningRate(0.5).build());
  }

  private static void steps(OptimizerState state, Map<String, NDArray> params, int from, int to) {
    NDManager m = params.values().iterator().next().getManager();
    for (int k = from; k <= to; k++) {
      Map<String, NDArray> grads = twoGradients(m, k);
      state.step(params, grads, 0.05 * Math.pow(0.9, k));
      grads.values().forEach(NDArray::close);
    }
  }

  private static Map<String, float[]> values(Map<String, NDArray> params) {
    Map<String, float[]> out = new LinkedHashMap<>();
    params.forEach((k, v) -> out.put(k, v.toFloatArray()));
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("optimizers")
  void resumingFromSavedStateGivesBitwiseTheWeightsOfAnUninterruptedRun(Optimizer optimizer) {
    Map<String, NDArray> uninterrupted = twoParameters(manager);
    OptimizerState reference = optimizer.newState();
    steps(reference, uninterrupted, 1, 6);

    Map<String, NDArray> resumed = twoParameters(manager);
    OptimizerState before = optimizer.newState();
    steps(before, resumed, 1, 3);
    OptimizerState after = optimizer.newState();
    try (NDManager checkpoint = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = before.saveTensors(checkpoint);
      // As a JSON round trip might hand them back: ints rather than longs.
      Map<String, Object> scalars = new HashMap<>();
      before.saveScalars().forEach((k, v) -> scalars.put(k, ((Number) v).intValue()));
      ((AutoCloseable) before).close();
      after.load(tensors, scalars, resumed);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    // The checkpoint's arrays are closed now; the loaded state must not depend on them.
    steps(after, resumed, 4, 6);

    assertThat(after.steps()).isEqualTo(6);
    Map<String, float[]> expected = values(uninterrupted);
    values(resumed).forEach((k, v) -> assertThat(v).as(k).isEqualTo(expected.get(k)));
  }

  @Test
  void adamStateRestoredWithoutItsMomentsDivergesFromTheUninterruptedRun() {
    Adam adam = Adam.builder().learningRate(0.05).build();
    Map<String, NDArray> uninterrupted = twoParameters(manager);
    OptimizerState reference = adam.newState();
    steps(reference, uninterrupted, 1, 6);

    Map<String, NDArray> resumed = twoParameters(manager);
    OptimizerState before = adam.newState();
    steps(before, resumed, 1, 3);
    Map<String, NDArray> zeroedMoments = new HashMap<>();
    before.saveTensors(manager).forEach((k, v) -> zeroedMoments.put(k, v.zerosLike()));
    OptimizerState after = adam.newState();
    after.load(zeroedMoments, before.saveScalars(), resumed);
    steps(after, resumed, 4, 6);

    float[] expected = uninterrupted.get("b").toFloatArray();
    float[] actual = resumed.get("b").toFloatArray();
    double largestGap = 0;
    for (int i = 0; i < expected.length; i++) {
      largestGap = Math.max(largestGap, Math.abs(expected[i] - actual[i]));
    }
    assertThat(largestGap).isGreaterThan(0.01);
  }

  @Test
  void adamWithALateStepCountButNoMomentsStepsAboutThreeTimesTheLearningRate() {
    // What restoring DJL's update count without its moments does: bias correction ~1, so the
    // first update is about (1 - beta1) / sqrt(1 - beta2) = 3.16 learning rates.
    Adam adam = Adam.builder().build();
    NDArray w = manager.create(new float[] {1f, -1f});
    NDArray g = manager.create(new float[] {0.2f, -3f});
    OptimizerState lost = adam.newState();
    lost.load(
        Map.of("w/mean", w.zerosLike(), "w/variance", w.zerosLike()),
        Map.of("steps", 100_000L, "w/step", 100_000L),
        Map.of("w", w));

    lost.step(Map.of("w", w), Map.of("w", g), 0.01);

    assertThat(w.toFloatArray())
        .containsExactly(new float[] {1 - 0.0316f, -1 + 0.0316f}, within(1e-4f));
  }

  @Test
  void stepsCountsOncePerStepWhateverTheNumberOfParameters() {
    OptimizerState state = Adam.builder().build().newState();
    Map<String, NDArray> params = twoParameters(manager);

    steps(state, params, 1, 3);
    state.step(params, Map.of(), 0.1);

    assertThat(state.steps()).isEqualTo(4);
    assertThat(state.saveScalars()).containsEntry("steps", 4L).containsEntry("a/step", 3L);
  }

  @Test
  void aParameterWithoutAGradientIsSkippedAndStartsFreshWhenOneArrives() {
    Adam adam = Adam.builder().learningRate(0.01).build();
    OptimizerState state = adam.newState();
    Map<String, NDArray> params = twoParameters(manager);
    float[] bBefore = params.get("b").toFloatArray();
    for (int k = 1; k <= 3; k++) {
      Map<String, NDArray> grads = twoGradients(manager, k);
      grads.remove("b");
      state.step(params, grads, 0.01);
    }
    assertThat(params.get("b").toFloatArray()).isEqualTo(bBefore);
    assertThat(state.saveTensors(manager)).containsOnlyKeys("a/mean", "a/variance");

    NDArray g = twoGradients(manager, 4).get("b");
    state.step(params, Map.of("b", g), 0.01);

    // b's first update: bias-corrected as update 1, so about lr * sign(g).
    float[] gradient = g.toFloatArray();
    float[] bAfter = params.get("b").toFloatArray();
    for (int i = 0; i < bAfter.length; i++) {
      assertThat(bBefore[i] - bAfter[i]).isCloseTo(0.01f * Math.signum(gradient[i]), within(1e-5f));
    }
    assertThat(state.saveScalars())
        .containsEntry("steps", 4L)
        .containsEntry("a/step", 3L)
        .containsEntry("b/step", 1L);
  }

  @Test
  void savedTensorsAreIndependentCopiesKeyedByPathAndSlot() {
    OptimizerState state = Sgd.builder().momentum(0.9).build().newState();
    Map<String, NDArray> params = twoParameters(manager);
    steps(state, params, 1, 1);
    Map<String, NDArray> saved = state.saveTensors(manager);
    float[] snapshot = saved.get("b/momentum").toFloatArray();

    steps(state, params, 2, 3);

    assertThat(saved).containsOnlyKeys("a/momentum", "b/momentum");
    assertThat(saved.get("a/momentum").getShape()).isEqualTo(new Shape(2, 3));
    assertThat(saved.get("b/momentum").toFloatArray()).isEqualTo(snapshot);
  }

  @Test
  void loadingATensorOfTheWrongShapeNamesTheSlotAndBothShapes() {
    OptimizerState state = Adam.builder().build().newState();
    Map<String, NDArray> params = twoParameters(manager);
    steps(state, params, 1, 1);
    Map<String, NDArray> tensors = new HashMap<>(state.saveTensors(manager));
    tensors.put("a/variance", manager.zeros(new Shape(3, 2)));

    assertThatThrownBy(
            () -> Adam.builder().build().newState().load(tensors, state.saveScalars(), params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a/variance'")
        .hasMessageContaining("(3, 2)")
        .hasMessageContaining("(2, 3)");
  }

  @Test
  void loadingAStateThatLacksASlotNamesTheSlot() {
    OptimizerState state = Adadelta.builder().build().newState();
    Map<String, NDArray> params = twoParameters(manager);
    steps(state, params, 1, 1);
    Map<String, NDArray> tensors = new HashMap<>(state.saveTensors(manager));
    tensors.remove("b/deltaAverage");

    assertThatThrownBy(
            () -> Adadelta.builder().build().newState().load(tensors, state.saveScalars(), params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter 'b'")
        .hasMessageContaining("lacks slot 'b/deltaAverage'");
  }

  @Test
  void loadingUnknownKeysIsRejected() {
    Map<String, NDArray> params = twoParameters(manager);
    NDArray zeros = manager.zeros(new Shape(4));
    OptimizerState state = Sgd.builder().momentum(0.9).build().newState();

    assertThatThrownBy(() -> state.load(Map.of("b/mean", zeros), Map.of("steps", 1L), params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown slot 'mean'")
        .hasMessageContaining("[momentum]");
    assertThatThrownBy(() -> state.load(Map.of("c/momentum", zeros), Map.of("steps", 1L), params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter 'c'");
    assertThatThrownBy(() -> state.load(Map.of(), Map.of("steps", 1L, "learningRate", 0.1), params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown scalar 'learningRate'");
    assertThatThrownBy(() -> state.load(Map.of(), Map.of(), params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lacks scalar 'steps'");
  }

  @Test
  void loadingAdamStateWithoutAParametersStepCountIsRejected() {
    Map<String, NDArray> params = twoParameters(manager);
    OptimizerState saved = Adam.builder().build().newState();
    steps(saved, params, 1, 2);
    Map<String, Object> scalars = new HashMap<>(saved.saveScalars());
    scalars.remove("a/step");

    assertThatThrownBy(
            () ->
                Adam.builder().build().newState().load(saved.saveTensors(manager), scalars, params))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lacks scalar 'a/step'");
  }

  @Test
  void aFailedLoadLeavesTheStateAsItWas() {
    OptimizerState state = Sgd.builder().momentum(0.9).build().newState();
    Map<String, NDArray> params = twoParameters(manager);
    steps(state, params, 1, 2);
    Map<String, NDArray> before = state.saveTensors(manager);

    assertThatThrownBy(
            () ->
                state.load(
                    Map.of("b/momentum", manager.zeros(new Shape(5))), Map.of("steps", 9L), params))
        .isInstanceOf(IllegalArgumentException.class);

    assertThat(state.steps()).isEqualTo(2);
    assertThat(state.saveTensors(manager).get("b/momentum").toFloatArray())
        .isEqualTo(before.get("b/momentum").toFloatArray());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("optimizers")
  void stepsLeaveNoArraysBehind(Optimizer optimizer) {
    OptimizerState state = optimizer.newState();
    Map<String, NDArray> params = twoParameters(manager);
    steps(state, params, 1, 1);
    int afterFirst = manager.getManagedArrays().size();

    steps(state, params, 2, 20);

    assertThat(manager.getManagedArrays()).hasSize(afterFirst);
  }

  @Test
  void closingTheStateFreesItsTensors() throws Exception {
    OptimizerState state = Adam.builder().build().newState();
    Map<String, NDArray> params = twoParameters(manager);
    int before = manager.getManagedArrays().size();
    steps(state, params, 1, 2);
    assertThat(manager.getManagedArrays()).hasSize(before + 4);

    ((AutoCloseable) state).close();

    assertThat(manager.getManagedArrays()).hasSize(before);
    assertThatThrownBy(() -> state.step(params, Map.of(), 0.1))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void updatesParametersThatRecordedGradientsInABackwardPass() {
    NDArray w = manager.create(new float[] {1f, -2f, 3f});
    w.setRequiresGradient(true);
    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      collector.backward(w.square().sum()); // gradient 2w
    }
    OptimizerState state = Sgd.builder().build().newState();

    state.step(Map.of("w", w), Map.of("w", w.getGradient()), 0.1);

    assertThat(w.toFloatArray()).containsExactly(new float[] {0.8f, -1.6f, 2.4f}, within(1e-6f));
  }

  @Test
  void aGradientForAnUnknownParameterOrOfTheWrongShapeIsRejected() {
    OptimizerState state = Sgd.builder().build().newState();
    Map<String, NDArray> params = twoParameters(manager);

    assertThatThrownBy(() -> state.step(params, Map.of("z", manager.zeros(new Shape(4))), 0.1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'z'");
    assertThatThrownBy(() -> state.step(params, Map.of("b", manager.zeros(new Shape(5))), 0.1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'b'")
        .hasMessageContaining("(5)")
        .hasMessageContaining("(4)");
    assertThat(state.steps()).isZero();
  }

  @Test
  void sgdWithoutMomentumHasNoStateTensors() {
    OptimizerState state = Sgd.builder().build().newState();
    Map<String, NDArray> params = twoParameters(manager);
    steps(state, params, 1, 2);

    assertThat(state.saveTensors(manager)).isEmpty();
    assertThat(state.saveScalars()).isEqualTo(Map.of("steps", 2L));
    assertThat(List.copyOf(state.saveScalars().keySet())).containsExactly("steps");
  }
}
