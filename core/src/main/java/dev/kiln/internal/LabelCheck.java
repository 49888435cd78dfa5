package dev.kiln.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import dev.kiln.TrainingException;

/** Checks a classification batch's labels against the model's output once, at the first batch. */
final class LabelCheck {
  private LabelCheck() {}

  static void check(NDList labels, NDList predictions) {
    NDArray pred = predictions.head();
    NDArray y = labels.head();
    Shape ps = pred.getShape();
    Shape ys = y.getShape();
    if (ps.dimension() != 2 || ys.size() != ps.get(0)) {
      return; // not a plain classification head; the loss will judge
    }
    long classes = ps.get(1);
    float[] values = y.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
    for (int i = 0; i < values.length; i++) {
      float v = values[i];
      if (v < 0 || v >= classes || v != Math.rint(v)) {
        throw new TrainingException(
            "Label "
                + v
                + " at position "
                + i
                + " of the first batch is outside 0.."
                + (classes - 1)
                + ": the model has "
                + classes
                + " outputs (prediction shape "
                + ps
                + ", label shape "
                + ys
                + ") — fix the labels or give the model's last layer as many outputs as classes");
      }
    }
  }
}
