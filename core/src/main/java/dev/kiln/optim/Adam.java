package dev.kiln.optim;

import dev.kiln.optim.internal.AdamState;
import dev.kiln.optim.internal.Checks;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adam with the semantics of {@code torch.optim.Adam}: weight decay is an L2 penalty added to the
 * gradient. For each parameter {@code p} with gradient {@code g}, at learning rate {@code lr}, on
 * that parameter's {@code t}-th update (counted per parameter, from 1):
 *
 * <pre>{@code
 * g = g + weightDecay * p
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g * g
 * vHat = amsgrad ? (vMax = max(vMax, v)) : v
 * p = p - lr / (1 - beta1^t) * m / (sqrt(vHat) / sqrt(1 - beta2^t) + eps)
 * }</pre>
 *
 * <p>The state keeps slots {@code mean} ({@code m}), {@code variance} ({@code v}) and, with
 * AMSGrad, {@code maxVariance}, plus each parameter's update count as scalar {@code "<path>/step"}:
 * a checkpoint restores the bias correction exactly. {@link #newState()} returns an {@link
 * AutoCloseable} state; closing it frees its tensors (they are also freed with the manager of the
 * first parameter it saw).
 *
 * <pre>{@code
 * Optimizer adam = Adam.builder().learningRate(1e-3).beta1(0.9).build();
 * }</pre>
 *
 * @see AdamW for decoupled weight decay
 */
public final class Adam implements Optimizer {

  private final double learningRate;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private final boolean amsgrad;
  private final boolean decoupled;

  private Adam(Builder b) {
    this.learningRate = b.learningRate;
    this.beta1 = b.beta1;
    this.beta2 = b.beta2;
    this.eps = b.eps;
    this.weightDecay = b.weightDecay;
    this.amsgrad = b.amsgrad;
    this.decoupled = b.decoupled;
  }

  /**
   * A builder with PyTorch's defaults: learning rate 1e-3, beta1 0.9, beta2 0.999, eps 1e-8, weight
   * decay 0, no AMSGrad.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these settings. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  @Override
  public String name() {
    return decoupled ? "adamw" : "adam";
  }

  @Override
  public double learningRate() {
    return learningRate;
  }

  /** The decay rate of the first-moment (mean) estimate. */
  public double beta1() {
    return beta1;
  }

  /** The decay rate of the second-moment (uncentred variance) estimate. */
  public double beta2() {
    return beta2;
  }

  /** The term added to the denominator for numerical stability. */
  public double eps() {
    return eps;
  }

  /** The weight decay factor. */
  public double weightDecay() {
    return weightDecay;
  }

  /** Whether the AMSGrad variant is used. */
  public boolean amsgrad() {
    return amsgrad;
  }

  /** Whether weight decay is decoupled from the gradient, as in {@link AdamW}. */
  public boolean decoupledWeightDecay() {
    return decoupled;
  }

  @Override
  public Map<String, Object> hyperParameters() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", name());
    m.put("learningRate", learningRate);
    m.put("beta1", beta1);
    m.put("beta2", beta2);
    m.put("eps", eps);
    m.put("weightDecay", weightDecay);
    m.put("amsgrad", amsgrad);
    return Collections.unmodifiableMap(m);
  }

  @Override
  public OptimizerState newState() {
    return new AdamState(name(), beta1, beta2, eps, weightDecay, decoupled, amsgrad);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Adam && ((Adam) o).hyperParameters().equals(hyperParameters());
  }

  @Override
  public int hashCode() {
    return hyperParameters().hashCode();
  }

  @Override
  public String toString() {
    return (decoupled ? "AdamW" : "Adam") + hyperParameters();
  }

  /** Settings for {@link Adam} and {@link AdamW}; every setter checks its argument. */
  public static final class Builder {
    private double learningRate = 1e-3;
    private double beta1 = 0.9;
    private double beta2 = 0.999;
    private double eps = 1e-8;
    private double weightDecay = 0;
    private boolean amsgrad;
    private boolean decoupled;

    private Builder() {}

    /** {@link AdamW}'s starting point: decoupled decay, 0.01. */
    static Builder decoupled() {
      Builder b = new Builder();
      b.decoupled = true;
      b.weightDecay = 0.01;
      return b;
    }

    private Builder(Adam a) {
      decoupled = a.decoupled;
      learningRate = a.learningRate;
      beta1 = a.beta1;
      beta2 = a.beta2;
      eps = a.eps;
      weightDecay = a.weightDecay;
      amsgrad = a.amsgrad;
    }

    /** The base learning rate, {@code >= 0}; default 1e-3. */
    public Builder learningRate(double learningRate) {
      this.learningRate = Checks.nonNegative("learningRate", learningRate);
      return this;
    }

    /** The first-moment decay, in [0, 1); default 0.9. */
    public Builder beta1(double beta1) {
      this.beta1 = Checks.unitInterval("beta1", beta1);
      return this;
    }

    /** The second-moment decay, in [0, 1); default 0.999. */
    public Builder beta2(double beta2) {
      this.beta2 = Checks.unitInterval("beta2", beta2);
      return this;
    }

    /** The denominator's stability term, {@code >= 0}; default 1e-8. */
    public Builder eps(double eps) {
      this.eps = Checks.nonNegative("eps", eps);
      return this;
    }

    /** The weight decay factor, {@code >= 0}; default 0 for Adam, 0.01 for AdamW. */
    public Builder weightDecay(double weightDecay) {
      this.weightDecay = Checks.nonNegative("weightDecay", weightDecay);
      return this;
    }

    /** Whether to use AMSGrad (the running maximum of the second moment); default false. */
    public Builder amsgrad(boolean amsgrad) {
      this.amsgrad = amsgrad;
      return this;
    }

    /** The optimizer. */
    public Adam build() {
      return new Adam(this);
    }
  }
}
