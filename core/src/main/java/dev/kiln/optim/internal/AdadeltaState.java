package dev.kiln.optim.internal;

import static dev.kiln.optim.internal.Ops.scalar;

import ai.djl.ndarray.NDArray;
import java.util.List;

/** {@code torch.optim.Adadelta}'s update: slots {@code squareAverage} and {@code deltaAverage}. */
public final class AdadeltaState extends SlotState {

  private final double rho;
  private final double eps;
  private final double weightDecay;

  public AdadeltaState(double rho, double eps, double weightDecay) {
    super("adadelta", List.of("squareAverage", "deltaAverage"), false);
    this.rho = rho;
    this.eps = eps;
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
    NDArray squareAverage = state[0];
    NDArray deltaAverage = state[1];
    NDArray decayed = Ops.l2Decayed(weight, gradient, weightDecay);
    NDArray g = decayed != null ? decayed : gradient;
    NDArray delta = null;
    try {
      // sa = rho sa + (1 - rho) g^2
      try (NDArray t = g.square()) {
        t.muli(scalar(t, 1 - rho));
        squareAverage.muli(scalar(squareAverage, rho)).addi(t);
      }
      // delta = sqrt(ad + eps) / sqrt(sa + eps) * g
      try (NDArray shifted = deltaAverage.add(scalar(deltaAverage, eps))) {
        delta = shifted.sqrt();
      }
      try (NDArray shifted = squareAverage.add(scalar(squareAverage, eps));
          NDArray std = shifted.sqrt()) {
        delta.divi(std).muli(g);
      }
    } finally {
      if (decayed != null) {
        decayed.close();
      }
    }
    try {
      // ad = rho ad + (1 - rho) delta^2 ; p -= lr delta
      try (NDArray t = delta.square()) {
        t.muli(scalar(t, 1 - rho));
        deltaAverage.muli(scalar(deltaAverage, rho)).addi(t);
      }
      delta.muli(scalar(delta, learningRate));
      weight.subi(delta);
    } finally {
      delta.close();
    }
  }
}
