package dev.kiln.optim.internal;

import static dev.kiln.optim.internal.Ops.scalar;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * {@code torch.optim.Adam} and {@code torch.optim.AdamW}'s update: slots {@code mean} and {@code
 * variance} (plus {@code maxVariance} with AMSGrad), and a per-parameter update count for the bias
 * correction.
 */
public final class AdamState extends SlotState {

  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private final boolean decoupled;
  private final boolean amsgrad;

  public AdamState(
      String name,
      double beta1,
      double beta2,
      double eps,
      double weightDecay,
      boolean decoupled,
      boolean amsgrad) {
    super(
        name,
        amsgrad ? List.of("mean", "variance", "maxVariance") : List.of("mean", "variance"),
        true);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.decoupled = decoupled;
    this.amsgrad = amsgrad;
  }

  @Override
  protected void update(
      NDArray weight,
      NDArray gradient,
      NDArray[] state,
      long parameterStep,
      boolean fresh,
      double learningRate) {
    NDArray mean = state[0];
    NDArray variance = state[1];
    if (decoupled && weightDecay != 0) {
      weight.muli(scalar(weight, 1 - learningRate * weightDecay));
    }
    NDArray decayed = decoupled ? null : Ops.l2Decayed(weight, gradient, weightDecay);
    NDArray g = decayed != null ? decayed : gradient;
    try {
      // m = b1 m + (1 - b1) g ; v = b2 v + (1 - b2) g^2
      try (NDArray t = g.mul(scalar(g, 1 - beta1))) {
        mean.muli(scalar(mean, beta1)).addi(t);
      }
      try (NDArray t = g.square()) {
        t.muli(scalar(t, 1 - beta2));
        variance.muli(scalar(variance, beta2)).addi(t);
      }
    } finally {
      if (decayed != null) {
        decayed.close();
      }
    }
    NDArray second = variance;
    if (amsgrad) {
      NDArray max = state[2];
      try (NDArray t = max.maximum(variance)) {
        Ops.assign(max, t);
      }
      second = max;
    }
    double biasCorrection1 = 1 - Math.pow(beta1, parameterStep);
    double biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, parameterStep));
    double stepSize = learningRate / biasCorrection1;
    // p -= stepSize * m / (sqrt(v) / sqrt(bc2) + eps)
    try (NDArray denominator = second.sqrt()) {
      denominator.divi(scalar(denominator, biasCorrection2Sqrt)).addi(scalar(denominator, eps));
      try (NDArray u = mean.div(denominator)) {
        u.muli(scalar(u, stepSize));
        weight.subi(u);
      }
    }
  }
}
