package dev.kiln.optim;

import dev.kiln.optim.internal.AdadeltaState;
import dev.kiln.optim.internal.Checks;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adadelta with the semantics of {@code torch.optim.Adadelta}, including its learning-rate
 * multiplier (DJL's own Adadelta has none and fails on the PyTorch engine). For each parameter
 * {@code p} with gradient {@code g}, at learning rate {@code lr}:
 *
 * <pre>{@code
 * g = g + weightDecay * p
 * s = rho * s + (1 - rho) * g * g
 * delta = sqrt(u + eps) / sqrt(s + eps) * g
 * u = rho * u + (1 - rho) * delta * delta
 * p = p - lr * delta
 * }</pre>
 *
 * <p>The state keeps slots {@code squareAverage} ({@code s}) and {@code deltaAverage} ({@code u})
 * per parameter. {@link #newState()} returns an {@link AutoCloseable} state; closing it frees its
 * tensors (they are also freed with the manager of the first parameter it saw).
 *
 * <pre>{@code
 * Optimizer adadelta = Adadelta.builder().rho(0.95).build();
 * }</pre>
 */
public final class Adadelta implements Optimizer {

  private final double learningRate;
  private final double rho;
  private final double eps;
  private final double weightDecay;

  private Adadelta(Builder b) {
    this.learningRate = b.learningRate;
    this.rho = b.rho;
    this.eps = b.eps;
    this.weightDecay = b.weightDecay;
  }

  /** A builder with PyTorch's defaults: learning rate 1.0, rho 0.9, eps 1e-6, no weight decay. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these settings. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  @Override
  public String name() {
    return "adadelta";
  }

  @Override
  public double learningRate() {
    return learningRate;
  }

  /** The decay rate of both running averages. */
  public double rho() {
    return rho;
  }

  /** The term added inside both square roots for numerical stability. */
  public double eps() {
    return eps;
  }

  /** The L2 penalty added to the gradient. */
  public double weightDecay() {
    return weightDecay;
  }

  @Override
  public Map<String, Object> hyperParameters() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", name());
    m.put("learningRate", learningRate);
    m.put("rho", rho);
    m.put("eps", eps);
    m.put("weightDecay", weightDecay);
    return Collections.unmodifiableMap(m);
  }

  @Override
  public OptimizerState newState() {
    return new AdadeltaState(rho, eps, weightDecay);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Adadelta && ((Adadelta) o).hyperParameters().equals(hyperParameters());
  }

  @Override
  public int hashCode() {
    return hyperParameters().hashCode();
  }

  @Override
  public String toString() {
    return "Adadelta" + hyperParameters();
  }

  /** Settings for {@link Adadelta}; every setter checks its argument. */
  public static final class Builder {
    private double learningRate = 1.0;
    private double rho = 0.9;
    private double eps = 1e-6;
    private double weightDecay;

    private Builder() {}

    private Builder(Adadelta a) {
      learningRate = a.learningRate;
      rho = a.rho;
      eps = a.eps;
      weightDecay = a.weightDecay;
    }

    /** The multiplier of each update, {@code >= 0}; default 1.0. */
    public Builder learningRate(double learningRate) {
      this.learningRate = Checks.nonNegative("learningRate", learningRate);
      return this;
    }

    /** The decay rate of the running averages, in [0, 1); default 0.9. */
    public Builder rho(double rho) {
      this.rho = Checks.unitInterval("rho", rho);
      return this;
    }

    /** The stability term inside the square roots, {@code >= 0}; default 1e-6. */
    public Builder eps(double eps) {
      this.eps = Checks.nonNegative("eps", eps);
      return this;
    }

    /** The L2 penalty added to the gradient, {@code >= 0}; default 0. */
    public Builder weightDecay(double weightDecay) {
      this.weightDecay = Checks.nonNegative("weightDecay", weightDecay);
      return this;
    }

    /** The optimizer. */
    public Adadelta build() {
      return new Adadelta(this);
    }
  }
}
