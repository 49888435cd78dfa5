package dev.kiln.optim;

import dev.kiln.optim.internal.Checks;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The built-in {@link LrSchedule}s, closed forms of PyTorch's schedulers. Each is an immutable
 * value (with {@code equals}) and a pure function of the base rate and the position {@code t >= 0};
 * a negative {@code t} is rejected.
 *
 * <pre>{@code
 * LrSchedule schedule = LrSchedules.linearWarmup(5, LrSchedules.cosine(95, 1e-5));
 * double lr = schedule.learningRate(optimizer.learningRate(), epoch);
 * }</pre>
 */
public final class LrSchedules {

  private LrSchedules() {}

  /** The base rate at every {@code t}. */
  public static LrSchedule constant() {
    return Constant.INSTANCE;
  }

  /**
   * PyTorch's {@code StepLR}: {@code base * gamma^floor(t / stepSize)}.
   *
   * @param stepSize positions between decays, {@code > 0}
   * @param gamma the decay factor, finite and {@code > 0}
   */
  public static LrSchedule step(long stepSize, double gamma) {
    return new Step(Checks.positive("stepSize", stepSize), Checks.positive("gamma", gamma));
  }

  /**
   * PyTorch's {@code MultiStepLR}: {@code base * gamma^n}, where {@code n} is the number of
   * milestones {@code <= t} (a milestone given twice counts twice, as in PyTorch).
   *
   * @param milestones positions at which to decay, each {@code >= 0}, in any order
   * @param gamma the decay factor, finite and {@code > 0}
   */
  public static LrSchedule multiStep(List<Long> milestones, double gamma) {
    Objects.requireNonNull(milestones, "milestones");
    List<Long> sorted = new ArrayList<>(milestones.size());
    for (Long m : milestones) {
      if (m == null || m < 0) {
        throw new IllegalArgumentException("milestones must be >= 0: " + milestones);
      }
      sorted.add(m);
    }
    Collections.sort(sorted);
    return new MultiStep(List.copyOf(sorted), Checks.positive("gamma", gamma));
  }

  /**
   * PyTorch's {@code CosineAnnealingLR} in closed form, held at its minimum after the period:
   * {@code min + (base - min) * (1 + cos(pi * min(t, period) / period)) / 2}.
   *
   * @param period positions from the base rate to the minimum ({@code T_max}), {@code > 0}
   * @param minLearningRate the rate reached at {@code t >= period} ({@code eta_min}), {@code >= 0}
   */
  public static LrSchedule cosine(long period, double minLearningRate) {
    return new Cosine(
        Checks.positive("period", period), Checks.nonNegative("minLearningRate", minLearningRate));
  }

  /**
   * A linear warm-up, then {@code after}: {@code base * (t + 1) / warmupLength} for {@code t <
   * warmupLength} (so the first position already trains, at {@code base / warmupLength}, and
   * position {@code warmupLength - 1} uses the full base rate), then {@code
   * after.learningRate(base, t - warmupLength)}. A length of 0 is {@code after} itself.
   *
   * @param warmupLength positions of warm-up, {@code >= 0}
   * @param after the schedule that follows, started at its own position 0
   */
  public static LrSchedule linearWarmup(long warmupLength, LrSchedule after) {
    return new LinearWarmup(
        Checks.nonNegative("warmupLength", warmupLength), Objects.requireNonNull(after, "after"));
  }

  private static long position(long t) {
    if (t < 0) {
      throw new IllegalArgumentException("t must be >= 0: " + t);
    }
    return t;
  }

  private static Map<String, Object> describe(String name, Object... keyValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", name);
    for (int i = 0; i < keyValues.length; i += 2) {
      m.put((String) keyValues[i], keyValues[i + 1]);
    }
    return Collections.unmodifiableMap(m);
  }

  private enum Constant implements LrSchedule {
    INSTANCE;

    @Override
    public double learningRate(double baseLearningRate, long t) {
      position(t);
      return baseLearningRate;
    }

    @Override
    public Map<String, Object> describe() {
      return LrSchedules.describe("constant");
    }

    @Override
    public String toString() {
      return "constant";
    }
  }

  private record Step(long stepSize, double gamma) implements LrSchedule {
    @Override
    public double learningRate(double baseLearningRate, long t) {
      return baseLearningRate * Math.pow(gamma, (double) (position(t) / stepSize));
    }

    @Override
    public Map<String, Object> describe() {
      return LrSchedules.describe("step", "stepSize", stepSize, "gamma", gamma);
    }
  }

  private record MultiStep(List<Long> milestones, double gamma) implements LrSchedule {
    @Override
    public double learningRate(double baseLearningRate, long t) {
      position(t);
      int passed = 0;
      for (long m : milestones) {
        if (m <= t) {
          passed++;
        }
      }
      return baseLearningRate * Math.pow(gamma, passed);
    }

    @Override
    public Map<String, Object> describe() {
      return LrSchedules.describe("multiStep", "milestones", milestones, "gamma", gamma);
    }
  }

  private record Cosine(long period, double minLearningRate) implements LrSchedule {
    @Override
    public double learningRate(double baseLearningRate, long t) {
      double progress = (double) Math.min(position(t), period) / period;
      return minLearningRate
          + (baseLearningRate - minLearningRate) * (1 + Math.cos(Math.PI * progress)) / 2;
    }

    @Override
    public Map<String, Object> describe() {
      return LrSchedules.describe("cosine", "period", period, "minLearningRate", minLearningRate);
    }
  }

  private record LinearWarmup(long warmupLength, LrSchedule after) implements LrSchedule {
    @Override
    public double learningRate(double baseLearningRate, long t) {
      if (position(t) < warmupLength) {
        return baseLearningRate * (t + 1) / warmupLength;
      }
      return after.learningRate(baseLearningRate, t - warmupLength);
    }

    @Override
    public Map<String, Object> describe() {
      return LrSchedules.describe(
          "linearWarmup", "warmupLength", warmupLength, "after", after.describe());
    }
  }
}
