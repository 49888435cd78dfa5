package dev.kiln.optim;

/**
 * Adam with decoupled weight decay, with the semantics of {@code torch.optim.AdamW}. For each
 * parameter {@code p} with gradient {@code g}, at learning rate {@code lr}, on that parameter's
 * {@code t}-th update (counted per parameter, from 1):
 *
 * <pre>{@code
 * p = p * (1 - lr * weightDecay)
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g * g
 * p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * }</pre>
 *
 * <p>The decay uses the scheduled learning rate of the step. The optimizer is an {@link Adam} whose
 * {@link Adam#decoupledWeightDecay()} is true and whose name is {@code adamw}; its state is Adam's:
 * slots {@code mean}, {@code variance} (and {@code maxVariance}), scalars {@code "<path>/step"}.
 *
 * <pre>{@code
 * Optimizer adamw = AdamW.builder().learningRate(3e-4).weightDecay(0.05).build();
 * }</pre>
 */
public final class AdamW {
  private AdamW() {}

  /**
   * A builder with PyTorch's defaults: learning rate 1e-3, beta1 0.9, beta2 0.999, eps 1e-8, weight
   * decay 0.01, no AMSGrad.
   */
  public static Adam.Builder builder() {
    return Adam.Builder.decoupled();
  }
}
