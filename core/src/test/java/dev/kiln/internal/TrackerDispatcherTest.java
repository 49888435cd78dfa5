package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

class TrackerDispatcherTest {

  static final RunStart START =
      new RunStart(
          "abcd1234",
          "r",
          Path.of("/tmp/r"),
          Instant.EPOCH,
          Map.of(),
          new DeviceReport("PyTorch", "2.7.1", List.of(), "test", 1),
          Optional.empty());

  static MetricsRecord record(MetricsRecord.Kind kind, long step) {
    return new MetricsRecord(kind, step, 1, Instant.EPOCH, Map.of("loss", 1.0), Map.of());
  }

  /** Blocks in its first metrics call until released; records what it got. */
  static final class StuckTracker implements ExperimentTracker {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final List<MetricsRecord> got = new CopyOnWriteArrayList<>();
    volatile StopRequest stop;
    volatile RunEnd end;

    @Override
    public String name() {
      return "stuck";
    }

    @Override
    public void runStarted(RunStart start) {}

    @Override
    public void metrics(MetricsRecord record) throws InterruptedException {
      entered.countDown();
      release.await();
      got.add(record);
    }

    @Override
    public void stopRequested(StopRequest request) {
      this.stop = request;
    }

    @Override
    public void runEnded(RunEnd end) {
      this.end = end;
    }
  }

  @Test
  void aTrackerThatFallsBehindLosesItsOldestStepRecordsButNoEpochRecordStopRequestOrRunEnd()
      throws Exception {
    StuckTracker stuck = new StuckTracker();
    TrackerDispatcher d = new TrackerDispatcher(List.of(stuck), Executors.defaultThreadFactory());
    assertThat(d.start(START, Duration.ofSeconds(10))).isEmpty();
    d.metrics(record(MetricsRecord.Kind.STEP, 0));
    stuck.entered.await();
    int steps = TrackerDispatcher.MAX_QUEUED_STEP_RECORDS + 100;
    for (int i = 1; i <= steps; i++) {
      d.metrics(record(MetricsRecord.Kind.STEP, i));
    }
    d.metrics(record(MetricsRecord.Kind.EPOCH, steps));
    d.stopRequested(new StopRequest("SIGTERM", steps, 1, Instant.EPOCH));
    assertThat(d.dropped()).containsEntry("stuck", 100L);
    stuck.release.countDown();
    d.end(
        new RunEnd(RunEnd.Outcome.INTERRUPTED, steps, 1, Instant.EPOCH, Optional.empty()),
        Duration.ofSeconds(30));

    assertThat(stuck.end).isNotNull();
    assertThat(stuck.stop).isNotNull();
    assertThat(stuck.got).hasSize(1 + TrackerDispatcher.MAX_QUEUED_STEP_RECORDS + 1);
    assertThat(stuck.got.get(1).step()).as("oldest dropped first").isEqualTo(101);
    assertThat(stuck.got.get(stuck.got.size() - 1).kind()).isEqualTo(MetricsRecord.Kind.EPOCH);
  }

  @Test
  void aTrackerStuckForeverNeitherHoldsRunEndPastTheTimeoutNorKeepsOthersFromTheirRunEnd()
      throws Exception {
    StuckTracker stuck = new StuckTracker();
    CountDownLatch healthyEnded = new CountDownLatch(1);
    ExperimentTracker healthy =
        new ExperimentTracker() {
          @Override
          public String name() {
            return "healthy";
          }

          @Override
          public void runStarted(RunStart start) {}

          @Override
          public void metrics(MetricsRecord record) {}

          @Override
          public void runEnded(RunEnd end) {
            healthyEnded.countDown();
          }
        };
    TrackerDispatcher d =
        new TrackerDispatcher(List.of(stuck, healthy), Executors.defaultThreadFactory());
    d.start(START, Duration.ofSeconds(10));
    d.metrics(record(MetricsRecord.Kind.STEP, 1));
    stuck.entered.await();

    d.end(
        new RunEnd(RunEnd.Outcome.FINISHED, 1, 1, Instant.EPOCH, Optional.empty()), Duration.ZERO);

    assertThat(healthyEnded.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(stuck.end).as("the stuck tracker is still stuck").isNull();
    stuck.release.countDown();
  }

  @Test
  void aTrackerThatFailsToStartIsReportedAndGetsNoMoreEventsButItsCloseStillRuns() {
    List<String> calls = new CopyOnWriteArrayList<>();
    ExperimentTracker failing =
        new ExperimentTracker() {
          @Override
          public String name() {
            return "failing";
          }

          @Override
          public void runStarted(RunStart start) {
            throw new IllegalStateException("no key");
          }

          @Override
          public void metrics(MetricsRecord record) {
            calls.add("metrics");
          }

          @Override
          public void runEnded(RunEnd end) {
            calls.add("end");
          }

          @Override
          public void close() {
            calls.add("close");
          }
        };
    TrackerDispatcher d = new TrackerDispatcher(List.of(failing), Executors.defaultThreadFactory());
    Map<String, Throwable> failed = d.start(START, Duration.ofSeconds(10));
    d.metrics(record(MetricsRecord.Kind.EPOCH, 1));
    d.end(
        new RunEnd(RunEnd.Outcome.FINISHED, 1, 1, Instant.EPOCH, Optional.empty()),
        Duration.ofSeconds(10));
    assertThat(failed).containsOnlyKeys("failing");
    assertThat(failed.get("failing")).hasMessage("no key");
    assertThat(calls).containsExactly("close");
    assertThat(d.failures()).containsEntry("failing", 1L);
  }
}
