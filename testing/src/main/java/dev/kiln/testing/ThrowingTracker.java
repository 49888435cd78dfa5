package dev.kiln.testing;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * A tracker that throws from chosen methods, to test that a failing tracker never stops training.
 *
 * <pre>{@code
 * ThrowingTracker broken = ThrowingTracker.on(TrackerMethod.METRICS);
 * // ... train with it: training must finish, and Kiln must still end and close the tracker ...
 * assertThat(broken.calls(TrackerMethod.RUN_ENDED)).isEqualTo(1);
 * assertThat(broken.calls(TrackerMethod.CLOSE)).isEqualTo(1);
 * }</pre>
 *
 * <p>By default each failure is an {@link InjectedFailure} whose message names the method and the
 * call number; {@link #failure(Function)} chooses another throwable, e.g. a {@code LinkageError} or
 * an {@code OutOfMemoryError}. Calls are counted per method, including those that threw. Safe to
 * call from any thread.
 */
// close() throws whatever failure() chooses, InterruptedException included, on purpose.
@SuppressWarnings("try")
public final class ThrowingTracker implements ExperimentTracker {

  /** The exception a {@link ThrowingTracker} throws unless told otherwise. */
  public static final class InjectedFailure extends Exception {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, e.g. {@code "injected failure in metrics, call 2"}
     */
    public InjectedFailure(String message) {
      super(message);
    }
  }

  private final Set<TrackerMethod> throwingMethods;
  private final Map<TrackerMethod, Integer> calls = new EnumMap<>(TrackerMethod.class);
  private volatile Function<String, ? extends Throwable> failure = InjectedFailure::new;
  private int thrown;

  private ThrowingTracker(Set<TrackerMethod> throwingMethods) {
    this.throwingMethods = EnumSet.copyOf(throwingMethods);
  }

  /** A tracker that throws from every method except {@link #name()}. */
  public static ThrowingTracker onEvery() {
    return new ThrowingTracker(EnumSet.allOf(TrackerMethod.class));
  }

  /** A tracker that throws from the given methods and does nothing in the others. */
  public static ThrowingTracker on(TrackerMethod first, TrackerMethod... rest) {
    Objects.requireNonNull(first, "first");
    return new ThrowingTracker(EnumSet.of(first, rest));
  }

  /**
   * Sets what to throw: {@code failure} receives a message naming the method and call number, e.g.
   * {@code "injected failure in metrics, call 2"}, and returns the throwable. Checked exceptions,
   * runtime exceptions and errors are thrown as they are.
   *
   * @return this tracker
   */
  public ThrowingTracker failure(Function<String, ? extends Throwable> failure) {
    this.failure = Objects.requireNonNull(failure, "failure");
    return this;
  }

  @Override
  public String name() {
    return "throwing";
  }

  @Override
  public void runStarted(RunStart start) throws Exception {
    call(TrackerMethod.RUN_STARTED);
  }

  @Override
  public void metrics(MetricsRecord record) throws Exception {
    call(TrackerMethod.METRICS);
  }

  @Override
  public void summary(Summary summary) throws Exception {
    call(TrackerMethod.SUMMARY);
  }

  @Override
  public void histograms(HistogramRecord record) throws Exception {
    call(TrackerMethod.HISTOGRAMS);
  }

  @Override
  public void flush() throws Exception {
    call(TrackerMethod.FLUSH);
  }

  @Override
  public void stopRequested(StopRequest request) throws Exception {
    call(TrackerMethod.STOP_REQUESTED);
  }

  @Override
  public void runEnded(RunEnd end) throws Exception {
    call(TrackerMethod.RUN_ENDED);
  }

  @Override
  public void close() throws Exception {
    call(TrackerMethod.CLOSE);
  }

  /** How many times {@code method} was called, whether or not it threw. */
  public synchronized int calls(TrackerMethod method) {
    return calls.getOrDefault(method, 0);
  }

  /** How many calls there were to all methods. */
  public synchronized int totalCalls() {
    return calls.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** How many throwables this tracker has thrown. */
  public synchronized int failuresThrown() {
    return thrown;
  }

  @Override
  public String toString() {
    return "ThrowingTracker{on " + throwingMethods + "}";
  }

  private void call(TrackerMethod method) throws Exception {
    int n;
    synchronized (this) {
      n = calls.merge(method, 1, Integer::sum);
      if (!throwingMethods.contains(method)) {
        return;
      }
      thrown++;
    }
    Throwable t = failure.apply("injected failure in " + method.methodName() + ", call " + n);
    if (t instanceof Exception e) {
      throw e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    throw new IllegalStateException("ThrowingTracker's failure function returned " + t, t);
  }
}
