package dev.kiln.optim;

import static dev.kiln.optim.internal.Ops.scalar;

import ai.djl.ndarray.NDArray;
import dev.kiln.optim.internal.Checks;
import dev.kiln.optim.internal.Ops;
import java.util.Collection;
import java.util.Objects;

/**
 * Gradient clipping, in place on the gradient arrays (pass {@code parameter.getArray()
 * .getGradient()} views and the parameters' gradients change). Call it after the backward pass and
 * before {@link OptimizerState#step}.
 *
 * <p>Unlike DJL's {@code optClipGrad}, which only caps positive gradients, both methods here are
 * symmetric.
 */
public final class GradientClipping {

  /** PyTorch's guard against dividing by a zero norm. */
  private static final double EPSILON = 1e-6;

  private GradientClipping() {}

  /**
   * Scales all gradients together so that their global L2 norm is at most about {@code maxNorm}, as
   * PyTorch's {@code clip_grad_norm_}: with {@code norm} the L2 norm of all elements of all
   * gradients, each gradient is multiplied by {@code maxNorm / (norm + 1e-6)} when that factor is
   * below 1, and left untouched otherwise.
   *
   * @param gradients the gradients to clip, any shapes and devices
   * @param maxNorm the largest norm allowed, {@code >= 0}
   * @return the global norm before clipping (infinite or NaN if a gradient is; the gradients are
   *     then scaled as PyTorch would, which may make them NaN, so check it)
   */
  public static double clipByGlobalNorm(Collection<NDArray> gradients, double maxNorm) {
    Objects.requireNonNull(gradients, "gradients");
    Checks.nonNegative("maxNorm", maxNorm);
    double sumOfSquares = 0;
    for (NDArray g : gradients) {
      Objects.requireNonNull(g, "gradient");
      try (NDArray norm = g.norm()) {
        double n = Ops.toDouble(norm);
        sumOfSquares += n * n;
      }
    }
    double total = Math.sqrt(sumOfSquares);
    double factor = maxNorm / (total + EPSILON);
    if (factor < 1 || Double.isNaN(factor)) {
      for (NDArray g : gradients) {
        g.muli(scalar(g, factor));
      }
    }
    return total;
  }

  /**
   * Clamps every gradient element into {@code [-clip, clip]}, as PyTorch's {@code
   * clip_grad_value_}.
   *
   * @param gradients the gradients to clip
   * @param clip the largest magnitude allowed, {@code >= 0}
   */
  public static void clipByValue(Collection<NDArray> gradients, double clip) {
    Objects.requireNonNull(gradients, "gradients");
    Checks.nonNegative("clip", clip);
    for (NDArray g : gradients) {
      Objects.requireNonNull(g, "gradient");
      try (NDArray clipped = g.clip(scalar(g, -clip), scalar(g, clip))) {
        Ops.assign(g, clipped);
      }
    }
  }
}
