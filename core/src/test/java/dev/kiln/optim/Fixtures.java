package dev.kiln.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;

/** Deterministic weights and gradients for optimizer tests. */
final class Fixtures {

  static final float[] INITIAL = {0.5f, -1.2f, 2.0f, 0.03f};

  private Fixtures() {}

  /** The gradient of step {@code step} (from 1) for a parameter of {@code size} elements. */
  static float[] gradient(int step, int size, int salt) {
    float[] g = new float[size];
    for (int i = 0; i < size; i++) {
      g[i] = (float) (Math.sin(1.7 * i + 0.9 * step + salt) * (1 + 0.3 * i));
    }
    return g;
  }

  static float[] gradient(int step) {
    return gradient(step, INITIAL.length, 0);
  }

  static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  /**
   * Runs {@code steps} steps of {@code optimizer} on one 4-element parameter; its final weights.
   */
  static float[] run(Optimizer optimizer, int steps, double[] learningRates) {
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray weight = manager.create(INITIAL.clone());
      OptimizerState state = optimizer.newState();
      for (int k = 1; k <= steps; k++) {
        try (NDArray g = manager.create(gradient(k))) {
          state.step(Map.of("w", weight), Map.of("w", g), learningRates[k - 1]);
        }
      }
      return weight.toFloatArray();
    }
  }

  /** Learning rates {@code base * 0.9^k}, k from 0: a schedule, so the per-step rate matters. */
  static double[] decaying(double base, int steps) {
    double[] lr = new double[steps];
    for (int k = 0; k < steps; k++) {
      lr[k] = base * Math.pow(0.9, k);
    }
    return lr;
  }

  /** Two parameters of different shapes, "a" (2, 3) and "b" (4), in {@code manager}. */
  static Map<String, NDArray> twoParameters(NDManager manager) {
    Map<String, NDArray> p = new LinkedHashMap<>();
    p.put("a", manager.create(new float[] {0.1f, -0.2f, 0.3f, 1.5f, -2.5f, 0.7f}, new Shape(2, 3)));
    p.put("b", manager.create(INITIAL.clone()));
    return p;
  }

  /** Gradients for {@link #twoParameters} at step {@code step}. */
  static Map<String, NDArray> twoGradients(NDManager manager, int step) {
    Map<String, NDArray> g = new LinkedHashMap<>();
    g.put("a", manager.create(gradient(step, 6, 3), new Shape(2, 3)));
    g.put("b", manager.create(gradient(step, 4, 0)));
    return g;
  }
}
