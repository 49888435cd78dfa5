package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tracking.RunEnd;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RecordingTrackerTest {

  private final Path runDirectory = Path.of("/runs/sample");

  @Test
  void callsAreRecordedInOrderWithTheirArguments() {
    RecordingTracker tracker = new RecordingTracker();

    tracker.runStarted(SampleEvents.runStart(runDirectory));
    tracker.metrics(SampleEvents.stepMetrics(1, 1, 2.0));
    tracker.histograms(SampleEvents.histograms(1));
    tracker.summary(SampleEvents.summary(1));
    tracker.flush();
    tracker.runEnded(SampleEvents.finished(1, 1));
    tracker.close();

    assertThat(tracker.methods())
        .containsExactly(
            TrackerMethod.RUN_STARTED,
            TrackerMethod.METRICS,
            TrackerMethod.HISTOGRAMS,
            TrackerMethod.SUMMARY,
            TrackerMethod.FLUSH,
            TrackerMethod.RUN_ENDED,
            TrackerMethod.CLOSE);
    assertThat(tracker.runStarts())
        .singleElement()
        .extracting(s -> s.runDirectory())
        .isEqualTo(runDirectory);
    assertThat(tracker.metrics()).containsExactly(SampleEvents.stepMetrics(1, 1, 2.0));
    assertThat(tracker.histograms()).hasSize(1);
    assertThat(tracker.summaries()).containsExactly(SampleEvents.summary(1));
    assertThat(tracker.runEnds())
        .extracting(RunEnd::outcome)
        .containsExactly(RunEnd.Outcome.FINISHED);
    assertThat(tracker.flushCount()).isEqualTo(1);
    assertThat(tracker.closed()).isTrue();
    assertThat(tracker.events())
        .allSatisfy(e -> assertThat(e.threadName()).isEqualTo(Thread.currentThread().getName()));
    assertThat(tracker.contractViolations()).isEmpty();
  }

  @Test
  void callsOutOfTheSpiOrderAreListedAsViolations() {
    RecordingTracker tracker = new RecordingTracker();

    tracker.metrics(SampleEvents.stepMetrics(1, 1, 2.0));
    tracker.runStarted(SampleEvents.runStart(runDirectory));
    tracker.metrics(SampleEvents.stepMetrics(9, 1, 2.0));
    tracker.metrics(SampleEvents.stepMetrics(4, 1, 2.0));
    tracker.close();
    tracker.runEnded(SampleEvents.finished(9, 1));

    assertThat(tracker.contractViolations())
        .containsExactly(
            "metrics at step 1 before runStarted",
            "metrics at step 4 after metrics at step 9 (steps never decrease)",
            "close before runEnded (runEnded always precedes close)",
            "runEnded after close (close comes last, once)");
  }

  @Test
  void aSecondEndAndEventsAfterTheEndAreViolations() {
    RecordingTracker tracker = new RecordingTracker();
    tracker.runStarted(SampleEvents.runStart(runDirectory));
    tracker.runEnded(SampleEvents.finished(0, 0));

    tracker.flush();
    tracker.runEnded(SampleEvents.finished(0, 0));
    tracker.close();
    tracker.close();

    assertThat(tracker.contractViolations())
        .containsExactly(
            "flush after runEnded (runEnded comes once, after all other events)",
            "runEnded a second time (runEnded comes once, after all other events)",
            "close after close (close comes last, once)");
    assertThat(tracker.closeCount()).isEqualTo(2);
  }

  @Test
  void aStopRequestIsRecordedAndASecondOneIsAViolation() {
    RecordingTracker tracker = new RecordingTracker();
    tracker.runStarted(SampleEvents.runStart(runDirectory));
    tracker.stopRequested(SampleEvents.stopRequest(3, 0));

    tracker.stopRequested(SampleEvents.stopRequest(3, 0));
    tracker.runEnded(SampleEvents.interrupted(3, 0));

    assertThat(tracker.stopRequests())
        .hasSize(2)
        .allSatisfy(stop -> assertThat(stop.reason()).isEqualTo("SIGTERM"));
    assertThat(tracker.contractViolations())
        .containsExactly("stopRequested a second time (at most once)");
  }

  @Test
  void awaitingTheRunEndReturnsOnceAnotherThreadEndsTheRun() throws Exception {
    RecordingTracker tracker = new RecordingTracker();
    tracker.runStarted(SampleEvents.runStart(runDirectory));
    Thread ender =
        new Thread(
            () -> {
              tracker.metrics(SampleEvents.stepMetrics(1, 1, 1.0));
              tracker.runEnded(SampleEvents.finished(1, 1));
            },
            "tracker-dispatch");

    ender.start();

    assertThat(tracker.awaitRunEnd(Duration.ofSeconds(10))).isTrue();
    assertThat(tracker.awaitMetrics(1, Duration.ofSeconds(10))).isTrue();
    assertThat(tracker.events().get(1).threadName()).isEqualTo("tracker-dispatch");
    ender.join();
  }

  @Test
  void awaitingGivesUpAfterTheTimeout() throws Exception {
    RecordingTracker tracker = new RecordingTracker();

    assertThat(tracker.awaitRunEnd(Duration.ofMillis(1))).isFalse();
    assertThat(tracker.awaitClose(Duration.ZERO)).isFalse();
    assertThat(tracker.awaitMetrics(1, Duration.ZERO)).isFalse();
  }
}
