package dev.kiln.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/**
 * The mutable state of one optimizer in one run: per-parameter slots (e.g. Adam's moments) and the
 * update count, keyed by stable parameter paths such as {@code "01Conv2d_weight"} (the keys of
 * DJL's {@code Block.getParameters()}), never by DJL's per-process parameter ids.
 *
 * <p>Not thread-safe: the training thread owns it.
 */
public interface OptimizerState {

  /**
   * Applies one update to every parameter in place and counts one step.
   *
   * @param parameters parameter path to its weight array
   * @param gradients parameter path to its gradient; same keys as {@code parameters}
   * @param learningRate the learning rate for this step (already scheduled)
   */
  void step(Map<String, NDArray> parameters, Map<String, NDArray> gradients, double learningRate);

  /** Updates applied so far. */
  long steps();

  /**
   * Copies every state tensor, keyed {@code "<path>/<slot>"} (e.g. {@code "01Conv2d_weight/mean"}),
   * into {@code manager}. The copies are independent of later steps.
   */
  Map<String, NDArray> saveTensors(NDManager manager);

  /** Scalar state (e.g. {@code steps}) as plain values. */
  Map<String, Object> saveScalars();

  /**
   * Replaces this state with a saved one.
   *
   * @param tensors as returned by {@link #saveTensors}; copied to each parameter's device
   * @param scalars as returned by {@link #saveScalars}
   * @param parameters the run's parameters, to check names and shapes and to place the state
   * @throws IllegalArgumentException naming the slot and both shapes when a saved tensor does not
   *     match its parameter, or naming the parameter when the saved state lacks or has extra slots
   */
  void load(
      Map<String, NDArray> tensors, Map<String, Object> scalars, Map<String, NDArray> parameters);
}
