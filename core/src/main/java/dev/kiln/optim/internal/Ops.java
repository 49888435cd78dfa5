package dev.kiln.optim.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/** Small tensor helpers the optimizers and clipping share. */
public final class Ops {

  private static final NDIndex ALL = new NDIndex("...");

  private Ops() {}

  /**
   * A scalar operand for an in-place op on {@code like}: a {@code Float} unless {@code like} is
   * float64, so the arithmetic stays in the array's dtype.
   */
  public static Number scalar(NDArray like, double value) {
    return like.getDataType() == DataType.FLOAT64 ? (Number) value : (Number) (float) value;
  }

  /**
   * {@code gradient + weightDecay * weight} as a new array the caller closes (PyTorch's L2 weight
   * decay), or null when {@code weightDecay} is 0 and the gradient is used as it is.
   */
  public static NDArray l2Decayed(NDArray weight, NDArray gradient, double weightDecay) {
    if (weightDecay == 0) {
      return null;
    }
    NDArray decayed = weight.mul(scalar(weight, weightDecay));
    decayed.addi(gradient);
    return decayed;
  }

  /** The value of a one-element array as a double, whatever its dtype. */
  public static double toDouble(NDArray scalar) {
    switch (scalar.getDataType()) {
      case FLOAT64:
        return scalar.getDouble();
      case FLOAT32:
        return scalar.getFloat();
      default:
        try (NDArray wide = scalar.toType(DataType.FLOAT64, true)) {
          return wide.getDouble();
        }
    }
  }

  /**
   * Overwrites {@code target}'s elements with {@code source}'s on the target's device, keeping
   * target's storage (so views such as a parameter's gradient see the change).
   */
  public static void assign(NDArray target, NDArray source) {
    target.set(ALL, source);
  }

  /**
   * An independent copy of {@code source} on {@code device} in {@code dataType}, owned by {@code
   * into}. Never aliases {@code source}.
   */
  public static NDArray copy(NDArray source, Device device, DataType dataType, NDManager into) {
    NDArray moved = source.toDevice(device, false);
    NDArray typed = moved.getDataType() == dataType ? moved : moved.toType(dataType, false);
    NDArray copy = typed.duplicate();
    if (typed != moved) {
      typed.close();
    }
    if (moved != source) {
      moved.close();
    }
    copy.attach(into);
    return copy;
  }
}
