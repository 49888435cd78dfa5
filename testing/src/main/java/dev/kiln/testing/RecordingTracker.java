package dev.kiln.testing;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A tracker that records every call, in order, for assertions.
 *
 * <pre>{@code
 * RecordingTracker tracker = new RecordingTracker();
 * // ... run training with the tracker ...
 * assertThat(tracker.awaitRunEnd(Duration.ofSeconds(10))).isTrue();
 * assertThat(tracker.runEnds()).singleElement().extracting(RunEnd::outcome)
 *     .isEqualTo(RunEnd.Outcome.FINISHED);
 * assertThat(tracker.contractViolations()).isEmpty();
 * }</pre>
 *
 * <p>It is safe to call from any thread and to read while calls go on: every accessor returns an
 * immutable snapshot. It never throws; calls that break the order {@link ExperimentTracker}
 * promises (metrics before the start or after the end, decreasing steps, a second end or close,
 * ...) are recorded and listed by {@link #contractViolations()}, so a test of the code that drives
 * trackers can check that order.
 */
public final class RecordingTracker implements ExperimentTracker {

  /**
   * One call.
   *
   * @param method which method was called
   * @param payload its argument: a {@link RunStart}, {@link MetricsRecord}, {@link Summary}, {@link
   *     HistogramRecord}, {@link StopRequest} or {@link RunEnd}; empty for {@code flush} and {@code
   *     close}
   * @param threadName the calling thread's name
   */
  public record Event(TrackerMethod method, Optional<Object> payload, String threadName) {
    public Event {
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(payload, "payload");
      Objects.requireNonNull(threadName, "threadName");
    }

    /** The payload as {@code type}; throws if it is absent or of another type. */
    public <T> T payload(Class<T> type) {
      return type.cast(payload.orElseThrow());
    }
  }

  private final String name;
  private final Object lock = new Object();
  private final List<Event> events = new ArrayList<>();
  private final List<String> violations = new ArrayList<>();
  private long lastStep = Long.MIN_VALUE;

  /** A tracker named {@code "recording"}. */
  public RecordingTracker() {
    this("recording");
  }

  /** A tracker with the given {@link #name()}. */
  public RecordingTracker(String name) {
    this.name = Objects.requireNonNull(name, "name");
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public void runStarted(RunStart start) {
    record(TrackerMethod.RUN_STARTED, Objects.requireNonNull(start, "start"));
  }

  @Override
  public void metrics(MetricsRecord record) {
    record(TrackerMethod.METRICS, Objects.requireNonNull(record, "record"));
  }

  @Override
  public void summary(Summary summary) {
    record(TrackerMethod.SUMMARY, Objects.requireNonNull(summary, "summary"));
  }

  @Override
  public void histograms(HistogramRecord record) {
    record(TrackerMethod.HISTOGRAMS, Objects.requireNonNull(record, "record"));
  }

  @Override
  public void flush() {
    record(TrackerMethod.FLUSH, null);
  }

  @Override
  public void stopRequested(StopRequest request) {
    record(TrackerMethod.STOP_REQUESTED, Objects.requireNonNull(request, "request"));
  }

  @Override
  public void runEnded(RunEnd end) {
    record(TrackerMethod.RUN_ENDED, Objects.requireNonNull(end, "end"));
  }

  @Override
  public void close() {
    record(TrackerMethod.CLOSE, null);
  }

  /** Every call so far, oldest first. */
  public List<Event> events() {
    synchronized (lock) {
      return List.copyOf(events);
    }
  }

  /** The methods called so far, oldest first: handy for {@code containsExactly(...)}. */
  public List<TrackerMethod> methods() {
    return events().stream().map(Event::method).toList();
  }

  /** Arguments of {@code runStarted} calls (normally one). */
  public List<RunStart> runStarts() {
    return payloads(TrackerMethod.RUN_STARTED, RunStart.class);
  }

  /** Arguments of {@code metrics} calls, oldest first. */
  public List<MetricsRecord> metrics() {
    return payloads(TrackerMethod.METRICS, MetricsRecord.class);
  }

  /** Arguments of {@code summary} calls, oldest first. */
  public List<Summary> summaries() {
    return payloads(TrackerMethod.SUMMARY, Summary.class);
  }

  /** Arguments of {@code histograms} calls, oldest first. */
  public List<HistogramRecord> histograms() {
    return payloads(TrackerMethod.HISTOGRAMS, HistogramRecord.class);
  }

  /** Arguments of {@code stopRequested} calls (at most one). */
  public List<StopRequest> stopRequests() {
    return payloads(TrackerMethod.STOP_REQUESTED, StopRequest.class);
  }

  /** Arguments of {@code runEnded} calls (normally one). */
  public List<RunEnd> runEnds() {
    return payloads(TrackerMethod.RUN_ENDED, RunEnd.class);
  }

  /** How many times {@code flush} was called. */
  public int flushCount() {
    return count(TrackerMethod.FLUSH);
  }

  /** Whether {@code close} was called. */
  public boolean closed() {
    return count(TrackerMethod.CLOSE) > 0;
  }

  /** How many times {@code close} was called (Kiln calls it once). */
  public int closeCount() {
    return count(TrackerMethod.CLOSE);
  }

  /**
   * Breaks of the call order that {@link ExperimentTracker} promises, as sentences naming the call,
   * e.g. {@code "metrics at step 4 after metrics at step 9 (steps never decrease)"}. Empty when the
   * driver behaved.
   */
  public List<String> contractViolations() {
    synchronized (lock) {
      return List.copyOf(violations);
    }
  }

  /**
   * Waits until {@code runEnded} has been called.
   *
   * @return true if it was called, false if {@code timeout} passed first
   */
  public boolean awaitRunEnd(Duration timeout) throws InterruptedException {
    return await(e -> e.stream().anyMatch(x -> x.method() == TrackerMethod.RUN_ENDED), timeout);
  }

  /**
   * Waits until {@code close} has been called.
   *
   * @return true if it was called, false if {@code timeout} passed first
   */
  public boolean awaitClose(Duration timeout) throws InterruptedException {
    return await(e -> e.stream().anyMatch(x -> x.method() == TrackerMethod.CLOSE), timeout);
  }

  /**
   * Waits until at least {@code count} {@code metrics} calls have been recorded.
   *
   * @return true if they were, false if {@code timeout} passed first
   */
  public boolean awaitMetrics(int count, Duration timeout) throws InterruptedException {
    return await(
        e -> e.stream().filter(x -> x.method() == TrackerMethod.METRICS).count() >= count, timeout);
  }

  @Override
  public String toString() {
    return "RecordingTracker{" + name + ", " + methods() + "}";
  }

  private void record(TrackerMethod method, Object payload) {
    Event event = new Event(method, Optional.ofNullable(payload), Thread.currentThread().getName());
    synchronized (lock) {
      checkOrder(event);
      events.add(event);
      lock.notifyAll();
    }
  }

  /** Called with {@code lock} held, before {@code event} is added. */
  private void checkOrder(Event event) {
    TrackerMethod method = event.method();
    int starts = countLocked(TrackerMethod.RUN_STARTED);
    int ends = countLocked(TrackerMethod.RUN_ENDED);
    int closes = countLocked(TrackerMethod.CLOSE);
    String what = describe(event);
    if (closes > 0) {
      violations.add(what + " after close (close comes last, once)");
      return;
    }
    switch (method) {
      case RUN_STARTED -> {
        if (starts > 0) {
          violations.add(what + " a second time (runStarted comes once)");
        }
      }
      case CLOSE -> {
        if (starts > 0 && ends == 0) {
          violations.add(what + " before runEnded (runEnded always precedes close)");
        }
      }
      default -> {
        if (starts == 0) {
          violations.add(what + " before runStarted");
        } else if (ends > 0) {
          violations.add(
              what
                  + (method == TrackerMethod.RUN_ENDED ? " a second time" : " after runEnded")
                  + " (runEnded comes once, after all other events)");
        }
      }
    }
    if (method == TrackerMethod.STOP_REQUESTED && countLocked(TrackerMethod.STOP_REQUESTED) > 0) {
      violations.add(what + " a second time (at most once)");
    }
    if (method == TrackerMethod.METRICS) {
      long step = event.payload(MetricsRecord.class).step();
      if (step < lastStep) {
        violations.add(what + " after metrics at step " + lastStep + " (steps never decrease)");
      }
      lastStep = Math.max(lastStep, step);
    }
  }

  private static String describe(Event event) {
    if (event.method() == TrackerMethod.METRICS) {
      return "metrics at step " + event.payload(MetricsRecord.class).step();
    }
    return event.method().methodName();
  }

  private <T> List<T> payloads(TrackerMethod method, Class<T> type) {
    return events().stream().filter(e -> e.method() == method).map(e -> e.payload(type)).toList();
  }

  private int count(TrackerMethod method) {
    synchronized (lock) {
      return countLocked(method);
    }
  }

  private int countLocked(TrackerMethod method) {
    int n = 0;
    for (Event e : events) {
      if (e.method() == method) {
        n++;
      }
    }
    return n;
  }

  private boolean await(Predicate<List<Event>> condition, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (!condition.test(events)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }
}
