package dev.kiln.testing;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tracker that blocks inside a chosen method until {@link #release()}, to test that a stuck
 * tracker never stalls training.
 *
 * <pre>{@code
 * BlockingTracker stuck = BlockingTracker.in(TrackerMethod.METRICS);
 * try {
 *   // ... start training with it on another thread ...
 *   assertThat(stuck.awaitBlocked(Duration.ofSeconds(10))).isTrue();
 *   // ... training must still finish ...
 * } finally {
 *   stuck.release();
 * }
 * assertThat(stuck.recorded().metrics()).isNotEmpty();
 * }</pre>
 *
 * <p>Every call to the chosen method blocks until {@link #release()}; after that no call blocks. A
 * blocked call returns early, throwing {@link InterruptedException}, if its thread is interrupted —
 * unless {@link #ignoringInterrupts()} was set, which mimics a network call that ignores
 * interrupts. Every call that returns is recorded, after the wait, in {@link #recorded()}. Always
 * release in a {@code finally} block, or the blocked thread outlives the test.
 */
// close() may block and be interrupted on purpose: that is what this tracker is for.
@SuppressWarnings("try")
public final class BlockingTracker implements ExperimentTracker {

  private final TrackerMethod blockingMethod;
  private final RecordingTracker recorded = new RecordingTracker("blocking");
  private final CountDownLatch released = new CountDownLatch(1);
  private final CountDownLatch entered = new CountDownLatch(1);
  private final AtomicInteger blockedCalls = new AtomicInteger();
  private volatile boolean ignoreInterrupts;

  private BlockingTracker(TrackerMethod blockingMethod) {
    this.blockingMethod = Objects.requireNonNull(blockingMethod, "blockingMethod");
  }

  /** A tracker whose calls to {@code method} block until {@link #release()}. */
  public static BlockingTracker in(TrackerMethod method) {
    return new BlockingTracker(method);
  }

  /**
   * Makes blocked calls ignore interrupts: they wait for {@link #release()} whatever happens, and
   * restore the thread's interrupt flag afterwards.
   *
   * @return this tracker
   */
  public BlockingTracker ignoringInterrupts() {
    this.ignoreInterrupts = true;
    return this;
  }

  /** Lets every blocked call go on; later calls do not block. Idempotent. */
  public void release() {
    released.countDown();
  }

  /**
   * Waits until a call has entered the blocking method.
   *
   * @return true if one has, false if {@code timeout} passed first
   */
  public boolean awaitBlocked(Duration timeout) throws InterruptedException {
    return entered.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** How many calls have blocked (or are blocking) so far. */
  public int blockedCalls() {
    return blockedCalls.get();
  }

  /** The calls that returned, in order; a blocked call appears once released. */
  public RecordingTracker recorded() {
    return recorded;
  }

  @Override
  public String name() {
    return "blocking";
  }

  @Override
  public void runStarted(RunStart start) throws InterruptedException {
    block(TrackerMethod.RUN_STARTED);
    recorded.runStarted(start);
  }

  @Override
  public void metrics(MetricsRecord record) throws InterruptedException {
    block(TrackerMethod.METRICS);
    recorded.metrics(record);
  }

  @Override
  public void summary(Summary summary) throws InterruptedException {
    block(TrackerMethod.SUMMARY);
    recorded.summary(summary);
  }

  @Override
  public void histograms(HistogramRecord record) throws InterruptedException {
    block(TrackerMethod.HISTOGRAMS);
    recorded.histograms(record);
  }

  @Override
  public void flush() throws InterruptedException {
    block(TrackerMethod.FLUSH);
    recorded.flush();
  }

  @Override
  public void stopRequested(StopRequest request) throws InterruptedException {
    block(TrackerMethod.STOP_REQUESTED);
    recorded.stopRequested(request);
  }

  @Override
  public void runEnded(RunEnd end) throws InterruptedException {
    block(TrackerMethod.RUN_ENDED);
    recorded.runEnded(end);
  }

  @Override
  public void close() throws InterruptedException {
    block(TrackerMethod.CLOSE);
    recorded.close();
  }

  @Override
  public String toString() {
    return "BlockingTracker{in "
        + blockingMethod.methodName()
        + ", "
        + (released.getCount() == 0 ? "released" : "holding")
        + "}";
  }

  private void block(TrackerMethod method) throws InterruptedException {
    if (method != blockingMethod || released.getCount() == 0) {
      return;
    }
    blockedCalls.incrementAndGet();
    entered.countDown();
    if (!ignoreInterrupts) {
      released.await();
      return;
    }
    boolean interrupted = false;
    while (true) {
      try {
        released.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
