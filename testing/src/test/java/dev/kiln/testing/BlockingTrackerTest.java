package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BlockingTrackerTest {

  private final ExecutorService dispatcher = Executors.newSingleThreadExecutor();

  @AfterEach
  void stopDispatcher() throws InterruptedException {
    dispatcher.shutdownNow();
    assertThat(dispatcher.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void theChosenMethodBlocksUntilReleased() throws Exception {
    BlockingTracker tracker = BlockingTracker.in(TrackerMethod.METRICS);
    tracker.runStarted(SampleEvents.runStart(Path.of("run")));

    Future<?> call = dispatcher.submit(() -> send(tracker, 1));
    try {
      assertThat(tracker.awaitBlocked(Duration.ofSeconds(10))).isTrue();
      assertThat(call).isNotDone();
      assertThat(tracker.recorded().metrics()).isEmpty();
      tracker.flush();
    } finally {
      tracker.release();
    }
    call.get(10, TimeUnit.SECONDS);

    assertThat(tracker.blockedCalls()).isEqualTo(1);
    assertThat(tracker.recorded().methods())
        .containsExactly(TrackerMethod.RUN_STARTED, TrackerMethod.FLUSH, TrackerMethod.METRICS);
  }

  @Test
  void callsAfterTheReleaseDoNotBlock() throws Exception {
    BlockingTracker tracker = BlockingTracker.in(TrackerMethod.CLOSE);
    tracker.release();

    tracker.close();

    assertThat(tracker.blockedCalls()).isZero();
    assertThat(tracker.recorded().closed()).isTrue();
  }

  @Test
  void anInterruptEndsTheBlockedCall() throws Exception {
    BlockingTracker tracker = BlockingTracker.in(TrackerMethod.FLUSH);
    CompletableFuture<Throwable> outcome = new CompletableFuture<>();
    Thread caller = new Thread(() -> outcome.complete(flush(tracker)), "tracker-dispatch");
    caller.start();

    assertThat(tracker.awaitBlocked(Duration.ofSeconds(10))).isTrue();
    caller.interrupt();

    assertThat(outcome.get(10, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
    assertThat(tracker.recorded().flushCount()).isZero();
    tracker.release();
  }

  @Test
  void aTrackerIgnoringInterruptsStaysBlockedUntilReleased() throws Exception {
    BlockingTracker tracker = BlockingTracker.in(TrackerMethod.FLUSH).ignoringInterrupts();
    AtomicBoolean interruptedAfterwards = new AtomicBoolean();
    CompletableFuture<Throwable> outcome = new CompletableFuture<>();
    Thread caller =
        new Thread(
            () -> {
              Throwable t = flush(tracker);
              interruptedAfterwards.set(Thread.currentThread().isInterrupted());
              outcome.complete(t);
            },
            "tracker-dispatch");
    caller.start();
    try {
      assertThat(tracker.awaitBlocked(Duration.ofSeconds(10))).isTrue();
      caller.interrupt();
      // The interrupt is delivered while blocked; the call must still be waiting for release().
      assertThat(outcome).isNotDone();
    } finally {
      tracker.release();
    }

    assertThat(outcome.get(10, TimeUnit.SECONDS)).isNull();
    assertThat(interruptedAfterwards).isTrue();
    assertThat(tracker.recorded().flushCount()).isEqualTo(1);
  }

  private static Void send(BlockingTracker tracker, long step) throws InterruptedException {
    tracker.metrics(SampleEvents.stepMetrics(step, 1, 1.0));
    return null;
  }

  private static Throwable flush(BlockingTracker tracker) {
    try {
      tracker.flush();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }
}
