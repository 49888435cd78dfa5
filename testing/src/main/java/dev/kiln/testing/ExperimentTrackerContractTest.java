package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunStart;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every {@link ExperimentTracker} must keep, as JUnit 5 tests. Extend it and say how
 * to create your tracker:
 *
 * <pre>{@code
 * class CsvTrackerContractTest extends ExperimentTrackerContractTest {
 *   @Override
 *   protected ExperimentTracker newTracker(Path runDirectory) {
 *     return new CsvTracker(runDirectory.resolve("metrics.csv"));
 *   }
 * }
 * }</pre>
 *
 * <p>Each test drives the tracker the way Kiln's trainer does — one thread, {@code runStarted},
 * then metrics at non-decreasing steps, summaries, histograms and flushes, then {@code runEnded},
 * then {@code close} — with the events of {@link SampleEvents}, and checks only what every tracker
 * must do whatever it writes: accept NaN and infinite values, end failed and interrupted runs,
 * tolerate a second {@code close}, continue a resumed run in the same run directory (after a clean
 * stop and after the process died), and write only inside the run directory. To check your own
 * output too, override {@link #verifyFinishedRun} and {@link #verifyResumedRun}.
 *
 * <p>A failure names the call that threw and its argument. Each test times out after 60 seconds, so
 * a tracker that blocks fails instead of hanging the build.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class ExperimentTrackerContractTest {

  @TempDir Path workDirectory;

  private final List<ExperimentTracker> abandoned = new ArrayList<>();

  /**
   * Creates the tracker under test for a run in {@code runDirectory}, which exists. Called once per
   * run, and again on the same directory for a resumed run, as a new process would.
   */
  protected abstract ExperimentTracker newTracker(Path runDirectory) throws Exception;

  /**
   * Checks what the tracker left after a complete run; by default nothing. Called after {@code
   * close}.
   *
   * @param runDirectory the run's directory
   * @param sent every metrics record sent, in order
   */
  protected void verifyFinishedRun(Path runDirectory, List<MetricsRecord> sent) throws Exception {}

  /**
   * Checks what the trackers left after a run that was resumed; by default nothing. Called after
   * the second tracker's {@code close}. Records the first process sent above {@code resume.step()}
   * belong to the lost process and should be gone (or superseded) in the tracker's output.
   *
   * @param runDirectory the run's directory
   * @param resume where the second process resumed
   * @param sentBefore metrics records the first process sent
   * @param sentAfter metrics records the second process sent, all above {@code resume.step()}
   */
  protected void verifyResumedRun(
      Path runDirectory,
      ResumeInfo resume,
      List<MetricsRecord> sentBefore,
      List<MetricsRecord> sentAfter)
      throws Exception {}

  /**
   * Called on a tracker whose process the kit pretends died: it gets neither {@code runEnded} nor
   * {@code close} before a new tracker resumes the run. By default nothing; override to release
   * what a dying process would release, such as OS file locks. The kit closes the tracker, ignoring
   * failures, after the test.
   */
  protected void abandon(ExperimentTracker tracker) throws Exception {}

  @AfterEach
  void closeAbandonedTrackers() {
    for (ExperimentTracker tracker : abandoned) {
      try {
        tracker.close();
      } catch (Exception ignored) {
        // The test is over; the process this tracker stood for is dead anyway.
      }
    }
    abandoned.clear();
  }

  @Test
  void theNameIsNotBlank() throws Exception {
    ExperimentTracker tracker = create(runDirectory());
    try {
      assertThat(tracker.name()).as("name()").isNotBlank();
    } finally {
      tracker.close();
    }
  }

  @Test
  void aFullRunInOrderIsAccepted() throws Exception {
    Path runDirectory = runDirectory();
    List<MetricsRecord> sent = fullRun(runDirectory);
    verifyFinishedRun(runDirectory, sent);
  }

  @Test
  void filesAreWrittenOnlyInsideTheRunDirectory() throws Exception {
    Path runDirectory = runDirectory();
    fullRun(runDirectory);
    try (Stream<Path> siblings = Files.list(workDirectory)) {
      assertThat(siblings.map(p -> p.getFileName().toString()))
          .as("files beside the run directory %s (trackers may write only inside it)", runDirectory)
          .containsExactly(runDirectory.getFileName().toString());
    }
  }

  @Test
  void closingTwiceIsHarmless() throws Exception {
    Path runDirectory = runDirectory();
    ExperimentTracker tracker = create(runDirectory);
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    send(tracker, SampleEvents.stepMetrics(1, 1, 2.3));
    call("runEnded(FINISHED)", () -> tracker.runEnded(SampleEvents.finished(1, 1)));
    call("close", tracker::close);
    call("a second close", tracker::close);
  }

  @Test
  void aFailedRunEndsCleanly() throws Exception {
    Path runDirectory = runDirectory();
    ExperimentTracker tracker = create(runDirectory);
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    send(tracker, SampleEvents.stepMetrics(1, 1, 2.3));
    send(tracker, SampleEvents.metrics(2, 1, Map.of("train_loss", Double.NaN)));
    call("runEnded(FAILED)", () -> tracker.runEnded(SampleEvents.failed(2, 0)));
    call("close", tracker::close);
  }

  @Test
  void anInterruptedRunEndsCleanly() throws Exception {
    Path runDirectory = runDirectory();
    ExperimentTracker tracker = create(runDirectory);
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    send(tracker, SampleEvents.stepMetrics(1, 1, 2.3));
    send(tracker, SampleEvents.epochMetrics(5, 1, 0.5, 0.8));
    call("stopRequested", () -> tracker.stopRequested(SampleEvents.stopRequest(7, 1)));
    call("flush", tracker::flush);
    call("runEnded(INTERRUPTED)", () -> tracker.runEnded(SampleEvents.interrupted(7, 1)));
    call("close", tracker::close);
  }

  @Test
  void aRunWhoseFinalCheckpointFailsAfterAStopRequestEndsCleanly() throws Exception {
    Path runDirectory = runDirectory();
    ExperimentTracker tracker = create(runDirectory);
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    send(tracker, SampleEvents.stepMetrics(1, 1, 2.3));
    call("stopRequested", () -> tracker.stopRequested(SampleEvents.stopRequest(1, 0)));
    call("runEnded(FAILED)", () -> tracker.runEnded(SampleEvents.failed(1, 0)));
    call("close", tracker::close);
  }

  @Test
  void flushBeforeAnyMetricsIsHarmless() throws Exception {
    Path runDirectory = runDirectory();
    ExperimentTracker tracker = create(runDirectory);
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    call("flush before any metrics", tracker::flush);
    call("a second flush", tracker::flush);
    send(tracker, SampleEvents.stepMetrics(1, 1, 2.3));
    call("flush", tracker::flush);
    call("runEnded(FINISHED)", () -> tracker.runEnded(SampleEvents.finished(1, 1)));
    call("close", tracker::close);
  }

  @Test
  void aRunWithoutMetricsEndsCleanly() throws Exception {
    Path runDirectory = runDirectory();
    ExperimentTracker tracker = create(runDirectory);
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    call("runEnded(FINISHED) with no metrics", () -> tracker.runEnded(SampleEvents.finished(0, 0)));
    call("close", tracker::close);
  }

  @Test
  void aResumedRunAcceptsMetricsAfterTheCheckpointStep() throws Exception {
    Path runDirectory = runDirectory();
    // The first process checkpoints at step 10 (epoch 2), goes on to step 13, then is stopped.
    ExperimentTracker first = create(runDirectory);
    call("runStarted", () -> first.runStarted(SampleEvents.runStart(runDirectory)));
    List<MetricsRecord> before = new ArrayList<>();
    for (long step = 1; step <= 13; step++) {
      int epoch = (int) (step - 1) / 5 + 1;
      before.add(send(first, SampleEvents.stepMetrics(step, epoch, 2.0 / step)));
      if (step % 5 == 0) {
        before.add(send(first, SampleEvents.epochMetrics(step, epoch, 0.5 / epoch, 0.8)));
        call("flush", first::flush);
      }
    }
    call("runEnded(INTERRUPTED)", () -> first.runEnded(SampleEvents.interrupted(13, 2)));
    call("close", first::close);

    RunStart resumed = SampleEvents.resumedRunStart(runDirectory, 10, 2);
    List<MetricsRecord> after = continueRun(runDirectory, resumed);
    verifyResumedRun(runDirectory, resumed.resume().orElseThrow(), before, after);
  }

  @Test
  void aRunResumedAfterItsProcessDiedAcceptsMetrics() throws Exception {
    Path runDirectory = runDirectory();
    // The first process flushes at step 5, sends two more records, and dies: no runEnded, no close.
    ExperimentTracker first = create(runDirectory);
    call("runStarted", () -> first.runStarted(SampleEvents.runStart(runDirectory)));
    List<MetricsRecord> before = new ArrayList<>();
    for (long step = 1; step <= 7; step++) {
      before.add(send(first, SampleEvents.stepMetrics(step, (int) (step - 1) / 5 + 1, 2.0 / step)));
      if (step == 5) {
        before.add(send(first, SampleEvents.epochMetrics(5, 1, 0.5, 0.8)));
        call("flush", first::flush);
      }
    }
    abandoned.add(first);
    call("abandon", () -> abandon(first));

    RunStart resumed = SampleEvents.resumedRunStart(runDirectory, 5, 1);
    List<MetricsRecord> after = continueRun(runDirectory, resumed);
    verifyResumedRun(runDirectory, resumed.resume().orElseThrow(), before, after);
  }

  /** Runs two epochs of five steps with zero, NaN and infinite values, then ends and closes. */
  private List<MetricsRecord> fullRun(Path runDirectory) throws Exception {
    ExperimentTracker tracker = create(runDirectory);
    List<MetricsRecord> sent = new ArrayList<>();
    call("runStarted", () -> tracker.runStarted(SampleEvents.runStart(runDirectory)));
    sent.add(send(tracker, SampleEvents.stepMetrics(1, 1, 2.3)));
    sent.add(send(tracker, SampleEvents.metrics(2, 1, Map.of("train_loss", 0.0, "lr", 0.0))));
    sent.add(send(tracker, SampleEvents.metrics(3, 1, Map.of("train_loss", Double.NaN))));
    Map<String, Double> infinite = new LinkedHashMap<>();
    infinite.put("train_loss", Double.POSITIVE_INFINITY);
    infinite.put("grad_log", Double.NEGATIVE_INFINITY);
    sent.add(send(tracker, SampleEvents.metrics(4, 1, infinite)));
    sent.add(send(tracker, SampleEvents.stepMetrics(5, 1, 0.9)));
    call("histograms", () -> tracker.histograms(SampleEvents.histograms(5)));
    // The epoch record shares the step of the last step record: steps never decrease, may repeat.
    sent.add(send(tracker, SampleEvents.epochMetrics(5, 1, 0.52, 0.81)));
    call("summary", () -> tracker.summary(SampleEvents.summary(5)));
    call("flush", tracker::flush);
    for (long step = 6; step <= 10; step++) {
      sent.add(send(tracker, SampleEvents.stepMetrics(step, 2, 1.0 / step)));
    }
    sent.add(send(tracker, SampleEvents.epochMetrics(10, 2, Double.NaN, 0.0)));
    call("summary", () -> tracker.summary(SampleEvents.summary(10)));
    call("flush", tracker::flush);
    call("runEnded(FINISHED)", () -> tracker.runEnded(SampleEvents.finished(10, 2)));
    call("close", tracker::close);
    return sent;
  }

  /** A new tracker continues {@code resumed}'s run for five steps after its checkpoint. */
  private List<MetricsRecord> continueRun(Path runDirectory, RunStart resumed) throws Exception {
    ResumeInfo resume = resumed.resume().orElseThrow();
    ExperimentTracker second = create(runDirectory);
    call("runStarted with resume at step " + resume.step(), () -> second.runStarted(resumed));
    List<MetricsRecord> after = new ArrayList<>();
    int epoch = resume.epoch() + 1;
    long last = resume.step() + 5;
    for (long step = resume.step() + 1; step <= last; step++) {
      after.add(send(second, SampleEvents.stepMetrics(step, epoch, 1.5 / step)));
    }
    after.add(send(second, SampleEvents.epochMetrics(last, epoch, 0.4, 0.85)));
    call("summary", () -> second.summary(SampleEvents.summary(last)));
    call("flush", second::flush);
    call("runEnded(FINISHED)", () -> second.runEnded(SampleEvents.finished(last, epoch)));
    call("close", second::close);
    return after;
  }

  private Path runDirectory() throws Exception {
    return Files.createDirectories(workDirectory.resolve(SampleEvents.RUN_NAME));
  }

  private ExperimentTracker create(Path runDirectory) throws Exception {
    ExperimentTracker tracker = call("newTracker", () -> newTracker(runDirectory));
    assertThat(tracker).as("newTracker(%s)", runDirectory).isNotNull();
    return tracker;
  }

  private static MetricsRecord send(ExperimentTracker tracker, MetricsRecord record) {
    call(
        "metrics("
            + record.kind()
            + " at step "
            + record.step()
            + ", values "
            + record.values()
            + ")",
        () -> tracker.metrics(record));
    return record;
  }

  private interface Call {
    void run() throws Exception;
  }

  private interface Supply<T> {
    T get() throws Exception;
  }

  private static void call(String what, Call call) {
    ExperimentTrackerContractTest.<Void>call(
        what,
        () -> {
          call.run();
          return null;
        });
  }

  private static <T> T call(String what, Supply<T> call) {
    try {
      return call.get();
    } catch (Exception e) {
      throw new AssertionError(what + " threw " + e, e);
    }
  }
}
