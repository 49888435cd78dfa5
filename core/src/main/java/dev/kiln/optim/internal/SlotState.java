package dev.kiln.optim.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.kiln.optim.OptimizerState;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The bookkeeping every Kiln optimizer state shares: per-parameter slots created lazily on a
 * parameter's first gradient (as PyTorch does), a per-parameter update count, the step count,
 * saving, and validated loading. Subclasses supply the slot names and the in-place update.
 *
 * <p>Slot tensors live in a child of the first parameter's {@link NDManager}, created on the first
 * {@link #step} or {@link #load}; {@link #close()} frees them early, and closing that parameter
 * manager frees them too.
 */
public abstract class SlotState implements OptimizerState, AutoCloseable {

  /** The scalar key of the step count. */
  public static final String STEPS = "steps";

  /** The per-parameter scalar slot holding that parameter's update count. */
  public static final String PARAMETER_STEP = "step";

  private final String optimizerName;
  private final List<String> slotNames;
  private final boolean savesParameterSteps;
  private final Map<String, Slots> slots = new LinkedHashMap<>();
  private long steps;
  private NDManager manager;
  private boolean closed;

  /**
   * @param optimizerName used in error messages
   * @param slotNames the tensors each parameter keeps, in the order {@link #update} receives them
   * @param savesParameterSteps whether each parameter's update count is part of the saved scalars
   *     (needed when the update depends on it, e.g. Adam's bias correction)
   */
  protected SlotState(String optimizerName, List<String> slotNames, boolean savesParameterSteps) {
    this.optimizerName = optimizerName;
    this.slotNames = List.copyOf(slotNames);
    this.savesParameterSteps = savesParameterSteps;
  }

  /**
   * Updates {@code weight} in place from {@code gradient}, reading and updating {@code state}. Must
   * not modify {@code gradient} and must close every temporary it creates.
   *
   * @param state the slot tensors, ordered as the slot names; zeros when {@code fresh}
   * @param parameterStep this parameter's update count including this update (1 on its first)
   * @param fresh whether the slots were just created for this update
   */
  protected abstract void update(
      NDArray weight,
      NDArray gradient,
      NDArray[] state,
      long parameterStep,
      boolean fresh,
      double learningRate);

  @Override
  public final void step(
      Map<String, NDArray> parameters, Map<String, NDArray> gradients, double learningRate) {
    requireOpen();
    Objects.requireNonNull(parameters, "parameters");
    Objects.requireNonNull(gradients, "gradients");
    if (!(learningRate >= 0) || Double.isInfinite(learningRate)) {
      throw new IllegalArgumentException("learningRate must be finite and >= 0: " + learningRate);
    }
    for (Map.Entry<String, NDArray> e : gradients.entrySet()) {
      NDArray weight = parameters.get(e.getKey());
      if (weight == null) {
        throw new IllegalArgumentException(
            "gradient for '" + e.getKey() + "', which is not among the parameters");
      }
      NDArray gradient = e.getValue();
      if (gradient != null && !gradient.getShape().equals(weight.getShape())) {
        throw new IllegalArgumentException(
            "gradient for '"
                + e.getKey()
                + "' has shape "
                + gradient.getShape()
                + " but the parameter has shape "
                + weight.getShape());
      }
    }
    for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
      NDArray gradient = gradients.get(e.getKey());
      if (gradient == null) {
        continue;
      }
      NDArray weight = e.getValue();
      Slots s = slots.get(e.getKey());
      boolean fresh = s == null;
      if (fresh) {
        s = new Slots(zerosLike(weight), 0);
        slots.put(e.getKey(), s);
      }
      s.steps++;
      update(weight, gradient, s.arrays, s.steps, fresh, learningRate);
    }
    steps++;
  }

  @Override
  public final long steps() {
    return steps;
  }

  @Override
  public final Map<String, NDArray> saveTensors(NDManager into) {
    requireOpen();
    Objects.requireNonNull(into, "manager");
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, Slots> e : slots.entrySet()) {
      NDArray[] arrays = e.getValue().arrays;
      for (int i = 0; i < arrays.length; i++) {
        NDArray a = arrays[i];
        out.put(
            e.getKey() + "/" + slotNames.get(i),
            Ops.copy(a, into.getDevice(), a.getDataType(), into));
      }
    }
    return Collections.unmodifiableMap(out);
  }

  @Override
  public final Map<String, Object> saveScalars() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put(STEPS, steps);
    if (savesParameterSteps) {
      for (Map.Entry<String, Slots> e : slots.entrySet()) {
        out.put(e.getKey() + "/" + PARAMETER_STEP, e.getValue().steps);
      }
    }
    return Collections.unmodifiableMap(out);
  }

  @Override
  public final void load(
      Map<String, NDArray> tensors, Map<String, Object> scalars, Map<String, NDArray> parameters) {
    requireOpen();
    Objects.requireNonNull(tensors, "tensors");
    Objects.requireNonNull(scalars, "scalars");
    Objects.requireNonNull(parameters, "parameters");

    // Validate everything before touching the current state.
    Map<String, NDArray[]> byPath = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      String key = e.getKey();
      int cut = key.lastIndexOf('/');
      String path = cut < 0 ? key : key.substring(0, cut);
      String slot = cut < 0 ? "" : key.substring(cut + 1);
      int index = slotNames.indexOf(slot);
      if (index < 0) {
        throw new IllegalArgumentException(
            "saved "
                + optimizerName
                + " state has key '"
                + key
                + "' with unknown slot '"
                + slot
                + "'; "
                + optimizerName
                + " keeps slots "
                + slotNames);
      }
      NDArray weight = parameters.get(path);
      if (weight == null) {
        throw new IllegalArgumentException(
            "saved "
                + optimizerName
                + " state has key '"
                + key
                + "' for parameter '"
                + path
                + "', which is not among the run's parameters");
      }
      Shape saved = e.getValue().getShape();
      if (!saved.equals(weight.getShape())) {
        throw new IllegalArgumentException(
            "saved "
                + optimizerName
                + " slot '"
                + key
                + "' has shape "
                + saved
                + " but parameter '"
                + path
                + "' has shape "
                + weight.getShape());
      }
      byPath.computeIfAbsent(path, p -> new NDArray[slotNames.size()])[index] = e.getValue();
    }
    for (Map.Entry<String, NDArray[]> e : byPath.entrySet()) {
      for (int i = 0; i < slotNames.size(); i++) {
        if (e.getValue()[i] == null) {
          throw new IllegalArgumentException(
              "saved "
                  + optimizerName
                  + " state for parameter '"
                  + e.getKey()
                  + "' lacks slot '"
                  + e.getKey()
                  + "/"
                  + slotNames.get(i)
                  + "'");
        }
      }
    }
    long savedSteps = count(scalars, STEPS);
    Map<String, Long> parameterSteps = new HashMap<>();
    for (String key : scalars.keySet()) {
      if (key.equals(STEPS)) {
        continue;
      }
      String suffix = "/" + PARAMETER_STEP;
      if (!savesParameterSteps || !key.endsWith(suffix)) {
        throw new IllegalArgumentException(
            "saved " + optimizerName + " state has unknown scalar '" + key + "'");
      }
      String path = key.substring(0, key.length() - suffix.length());
      if (!parameters.containsKey(path)) {
        throw new IllegalArgumentException(
            "saved "
                + optimizerName
                + " state has scalar '"
                + key
                + "' for parameter '"
                + path
                + "', which is not among the run's parameters");
      }
      if (!slotNames.isEmpty() && !byPath.containsKey(path)) {
        throw new IllegalArgumentException(
            "saved "
                + optimizerName
                + " state has scalar '"
                + key
                + "' but no slots for parameter '"
                + path
                + "'");
      }
      parameterSteps.put(path, count(scalars, key));
    }
    if (savesParameterSteps) {
      for (String path : byPath.keySet()) {
        if (!parameterSteps.containsKey(path)) {
          throw new IllegalArgumentException(
              "saved "
                  + optimizerName
                  + " state for parameter '"
                  + path
                  + "' lacks scalar '"
                  + path
                  + "/"
                  + PARAMETER_STEP
                  + "'");
        }
      }
    }

    // Replace.
    clearSlots();
    if (manager == null && !parameters.isEmpty()) {
      manager = parameters.values().iterator().next().getManager().newSubManager();
    }
    Map<String, Slots> loaded = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray[]> e : byPath.entrySet()) {
      NDArray weight = parameters.get(e.getKey());
      NDArray[] arrays = new NDArray[slotNames.size()];
      for (int i = 0; i < arrays.length; i++) {
        arrays[i] = Ops.copy(e.getValue()[i], weight.getDevice(), weight.getDataType(), manager);
      }
      loaded.put(
          e.getKey(), new Slots(arrays, parameterSteps.getOrDefault(e.getKey(), savedSteps)));
    }
    if (savesParameterSteps && slotNames.isEmpty()) {
      for (Map.Entry<String, Long> e : parameterSteps.entrySet()) {
        loaded.put(e.getKey(), new Slots(new NDArray[0], e.getValue()));
      }
    }
    slots.putAll(loaded);
    steps = savedSteps;
  }

  /** Frees every state tensor; the state cannot be used afterwards. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    slots.clear();
    if (manager != null) {
      manager.close();
      manager = null;
    }
  }

  /** The parameter paths that have state, in first-update order. */
  public final List<String> paths() {
    return Collections.unmodifiableList(new ArrayList<>(slots.keySet()));
  }

  private NDArray[] zerosLike(NDArray weight) {
    if (manager == null) {
      manager = weight.getManager().newSubManager();
    }
    NDArray[] arrays = new NDArray[slotNames.size()];
    for (int i = 0; i < arrays.length; i++) {
      arrays[i] = manager.zeros(weight.getShape(), weight.getDataType(), weight.getDevice());
    }
    return arrays;
  }

  private void clearSlots() {
    for (Slots s : slots.values()) {
      for (NDArray a : s.arrays) {
        a.close();
      }
    }
    slots.clear();
  }

  private long count(Map<String, Object> scalars, String key) {
    Object value = scalars.get(key);
    if (value == null) {
      throw new IllegalArgumentException(
          "saved " + optimizerName + " state lacks scalar '" + key + "'");
    }
    if (!(value instanceof Number)) {
      throw new IllegalArgumentException(
          "saved " + optimizerName + " scalar '" + key + "' is not a number: " + value);
    }
    Number n = (Number) value;
    double d = n.doubleValue();
    long l = n.longValue();
    if (d != l || l < 0) {
      throw new IllegalArgumentException(
          "saved " + optimizerName + " scalar '" + key + "' must be a whole number >= 0: " + value);
    }
    return l;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException(optimizerName + " state is closed");
    }
  }

  private static final class Slots {
    final NDArray[] arrays;
    long steps;

    Slots(NDArray[] arrays, long steps) {
      this.arrays = arrays;
      this.steps = steps;
    }
  }
}
