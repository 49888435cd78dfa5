package dev.kiln.optim.internal;

import static dev.kiln.optim.internal.Ops.scalar;

import ai.djl.ndarray.NDArray;
import java.util.List;

/** {@code torch.optim.SGD}'s update; slot {@code momentum} only when momentum is non-zero. */
public final class SgdState extends SlotState {

  private final double momentum;
  private final double dampening;
  private final boolean nesterov;
  private final double weightDecay;

  public SgdState(double momentum, double dampening, boolean nesterov, double weightDecay) {
    super("sgd", momentum == 0 ? List.of() : List.of("momentum"), false);
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
    this.weightDecay = weightDecay;
  }

  @Override
  protected void update(
      NDArray weight,
      NDArray gradient,
      NDArray[] state,
      long parameterStep,
      boolean fresh,
      double learningRate) {
    // d = g + wd * p
    NDArray decayed = Ops.l2Decayed(weight, gradient, weightDecay);
    NDArray d = decayed != null ? decayed : gradient;
    try {
      NDArray direction = d;
      NDArray lookahead = null;
      if (momentum != 0) {
        NDArray buffer = state[0];
        if (fresh) {
          buffer.addi(d); // the buffer starts as a copy of the first (decayed) gradient
        } else {
          buffer.muli(scalar(buffer, momentum));
          if (dampening == 0) {
            buffer.addi(d);
          } else {
            try (NDArray t = d.mul(scalar(d, 1 - dampening))) {
              buffer.addi(t);
            }
          }
        }
        if (nesterov) {
          lookahead = buffer.mul(scalar(buffer, momentum));
          lookahead.addi(d);
          direction = lookahead;
        } else {
          direction = buffer;
        }
      }
      try (NDArray u = direction.mul(scalar(direction, learningRate))) {
        weight.subi(u);
      } finally {
        if (lookahead != null) {
          lookahead.close();
        }
      }
    } finally {
      if (decayed != null) {
        decayed.close();
      }
    }
  }
}
