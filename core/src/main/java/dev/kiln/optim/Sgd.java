package dev.kiln.optim;

import dev.kiln.optim.internal.Checks;
import dev.kiln.optim.internal.SgdState;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, with
 * the semantics of {@code torch.optim.SGD}. For each parameter {@code p} with gradient {@code g},
 * at learning rate {@code lr}:
 *
 * <pre>{@code
 * d = g + weightDecay * p
 * if momentum != 0:
 *   b = d                                      on the parameter's first update
 *   b = momentum * b + (1 - dampening) * d     afterwards
 *   d = nesterov ? d + momentum * b : b
 * p = p - lr * d
 * }</pre>
 *
 * <p>The state keeps slot {@code momentum} ({@code b}) per parameter when momentum is non-zero, and
 * nothing otherwise. {@link #newState()} returns an {@link AutoCloseable} state; closing it frees
 * its tensors (they are also freed with the manager of the first parameter it saw).
 *
 * <pre>{@code
 * Optimizer sgd = Sgd.builder().learningRate(0.1).momentum(0.9).nesterov(true).build();
 * }</pre>
 */
public final class Sgd implements Optimizer {

  private final double learningRate;
  private final double momentum;
  private final double dampening;
  private final boolean nesterov;
  private final double weightDecay;

  private Sgd(Builder b) {
    this.learningRate = b.learningRate;
    this.momentum = b.momentum;
    this.dampening = b.dampening;
    this.nesterov = b.nesterov;
    this.weightDecay = b.weightDecay;
  }

  /** A builder with PyTorch's defaults: learning rate 1e-3, no momentum, no weight decay. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these settings. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  @Override
  public String name() {
    return "sgd";
  }

  @Override
  public double learningRate() {
    return learningRate;
  }

  /** The momentum factor; 0 means plain SGD. */
  public double momentum() {
    return momentum;
  }

  /** The dampening of the gradient's contribution to the momentum buffer. */
  public double dampening() {
    return dampening;
  }

  /** Whether Nesterov momentum is used. */
  public boolean nesterov() {
    return nesterov;
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
    m.put("momentum", momentum);
    m.put("dampening", dampening);
    m.put("nesterov", nesterov);
    m.put("weightDecay", weightDecay);
    return Collections.unmodifiableMap(m);
  }

  @Override
  public OptimizerState newState() {
    return new SgdState(momentum, dampening, nesterov, weightDecay);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Sgd && ((Sgd) o).hyperParameters().equals(hyperParameters());
  }

  @Override
  public int hashCode() {
    return hyperParameters().hashCode();
  }

  @Override
  public String toString() {
    return "Sgd" + hyperParameters();
  }

  /** Settings for {@link Sgd}; every setter checks its argument. */
  public static final class Builder {
    private double learningRate = 1e-3;
    private double momentum;
    private double dampening;
    private boolean nesterov;
    private double weightDecay;

    private Builder() {}

    private Builder(Sgd s) {
      learningRate = s.learningRate;
      momentum = s.momentum;
      dampening = s.dampening;
      nesterov = s.nesterov;
      weightDecay = s.weightDecay;
    }

    /** The base learning rate, {@code >= 0}; default 1e-3. */
    public Builder learningRate(double learningRate) {
      this.learningRate = Checks.nonNegative("learningRate", learningRate);
      return this;
    }

    /** The momentum factor, {@code >= 0}; default 0 (no momentum buffer). */
    public Builder momentum(double momentum) {
      this.momentum = Checks.nonNegative("momentum", momentum);
      return this;
    }

    /** The dampening for momentum, in [0, 1]; default 0. */
    public Builder dampening(double dampening) {
      this.dampening = Checks.closedUnitInterval("dampening", dampening);
      return this;
    }

    /** Whether to use Nesterov momentum; default false. Needs momentum > 0 and dampening 0. */
    public Builder nesterov(boolean nesterov) {
      this.nesterov = nesterov;
      return this;
    }

    /** The L2 penalty added to the gradient, {@code >= 0}; default 0. */
    public Builder weightDecay(double weightDecay) {
      this.weightDecay = Checks.nonNegative("weightDecay", weightDecay);
      return this;
    }

    /**
     * The optimizer.
     *
     * @throws IllegalArgumentException if nesterov is set without momentum or with dampening
     */
    public Sgd build() {
      if (nesterov && (momentum <= 0 || dampening != 0)) {
        throw new IllegalArgumentException(
            "nesterov requires momentum > 0 and dampening 0: momentum "
                + momentum
                + ", dampening "
                + dampening);
      }
      return new Sgd(this);
    }
  }
}
