package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the contract kit, through the JUnit Platform launcher, against trackers that break it in one
 * way each, and checks that exactly the tests that should catch the break fail.
 */
class ExperimentTrackerContractTestTest {

  @Test
  void aRecordingTrackerPassesEveryContractTest() {
    KitResult result = runKit(RecordingTrackerContractTest.class);

    assertThat(result.failed).isEmpty();
    assertThat(result.passed).hasSize(11);
  }

  @Test
  void aTrackerThatThrowsOnTheSecondCloseFailsTheKit() {
    KitResult result = runKit(ThrowsOnSecondCloseContract.class);

    assertThat(result.failed).containsExactly("closingTwiceIsHarmless");
    assertThat(result.messages).anySatisfy(m -> assertThat(m).contains("a second close threw"));
  }

  @Test
  void aTrackerThatThrowsOnAStopRequestFailsTheKit() {
    KitResult result = runKit(ThrowsOnStopRequestContract.class);

    assertThat(result.failed)
        .containsExactlyInAnyOrder(
            "anInterruptedRunEndsCleanly",
            "aRunWhoseFinalCheckpointFailsAfterAStopRequestEndsCleanly");
    assertThat(result.messages).anySatisfy(m -> assertThat(m).contains("stopRequested"));
  }

  @Test
  void aTrackerThatRejectsNanFailsTheKit() {
    KitResult result = runKit(RejectsNanContract.class);

    assertThat(result.failed)
        .containsExactlyInAnyOrder(
            "aFullRunInOrderIsAccepted",
            "filesAreWrittenOnlyInsideTheRunDirectory",
            "aFailedRunEndsCleanly");
    assertThat(result.messages)
        .anySatisfy(m -> assertThat(m).contains("metrics(STEP at step 3").contains("NaN"));
  }

  @Test
  void aTrackerThatIgnoresResumeFailsTheKit() {
    KitResult result = runKit(IgnoresResumeContract.class);

    assertThat(result.failed)
        .containsExactlyInAnyOrder(
            "aResumedRunAcceptsMetricsAfterTheCheckpointStep",
            "aRunResumedAfterItsProcessDiedAcceptsMetrics");
  }

  @Test
  void aTrackerThatWritesBesideTheRunDirectoryFailsTheKit() {
    KitResult result = runKit(WritesBesideRunDirectoryContract.class);

    assertThat(result.failed).containsExactly("filesAreWrittenOnlyInsideTheRunDirectory");
  }

  private static KitResult runKit(Class<?> contractTest) {
    KitResult result = new KitResult();
    LauncherFactory.create()
        .execute(
            LauncherDiscoveryRequestBuilder.request().selectors(selectClass(contractTest)).build(),
            result);
    return result;
  }

  /** Collects the names of the kit's test methods that passed and failed. */
  private static final class KitResult implements TestExecutionListener {
    final Set<String> passed = new TreeSet<>();
    final Set<String> failed = new TreeSet<>();
    final List<String> messages = new ArrayList<>();

    @Override
    public void executionFinished(TestIdentifier test, TestExecutionResult result) {
      if (!test.isTest()) {
        if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
          failed.add("container " + test.getDisplayName());
        }
        return;
      }
      String name =
          test.getSource()
              .filter(MethodSource.class::isInstance)
              .map(s -> ((MethodSource) s).getMethodName())
              .orElse(test.getDisplayName());
      if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
        passed.add(name);
      } else {
        failed.add(name);
        result.getThrowable().ifPresent(t -> messages.add(String.valueOf(t.getMessage())));
      }
    }
  }

  // The contract tests below are static nested classes: Surefire does not run them by itself, and
  // each is run on purpose, through the launcher, by the tests above.

  /** Throws on the second close. */
  static final class ThrowsOnSecondCloseContract extends ExperimentTrackerContractTest {
    @Override
    protected ExperimentTracker newTracker(Path runDirectory) {
      return new QuietTracker() {
        private int closes;

        @Override
        public void close() {
          if (++closes > 1) {
            throw new IllegalStateException("already closed");
          }
        }
      };
    }
  }

  /** Throws when training asks to stop. */
  static final class ThrowsOnStopRequestContract extends ExperimentTrackerContractTest {
    @Override
    protected ExperimentTracker newTracker(Path runDirectory) {
      return new QuietTracker() {
        @Override
        public void stopRequested(StopRequest request) {
          throw new IllegalStateException("not expecting a stop");
        }
      };
    }
  }

  /** Throws when a metric is NaN. */
  static final class RejectsNanContract extends ExperimentTrackerContractTest {
    @Override
    protected ExperimentTracker newTracker(Path runDirectory) {
      return new QuietTracker() {
        @Override
        public void metrics(MetricsRecord record) {
          if (record.values().values().stream().anyMatch(v -> v.isNaN())) {
            throw new IllegalArgumentException("NaN is not a number");
          }
        }
      };
    }
  }

  /** Remembers the highest step in the run directory and rejects any step at or below it. */
  static final class IgnoresResumeContract extends ExperimentTrackerContractTest {
    @Override
    protected ExperimentTracker newTracker(Path runDirectory) throws IOException {
      Path stepFile = runDirectory.resolve("last-step");
      long floor = Files.exists(stepFile) ? Long.parseLong(Files.readString(stepFile)) : 0;
      return new QuietTracker() {
        @Override
        public void metrics(MetricsRecord record) throws IOException {
          if (record.step() <= floor) {
            throw new IllegalStateException("step " + record.step() + " was already logged");
          }
          Files.writeString(stepFile, Long.toString(record.step()));
        }
      };
    }
  }

  /** Writes a log file next to the run directory. */
  static final class WritesBesideRunDirectoryContract extends ExperimentTrackerContractTest {
    @Override
    protected ExperimentTracker newTracker(Path runDirectory) {
      return new QuietTracker() {
        @Override
        public void runStarted(RunStart start) throws IOException {
          Files.writeString(start.runDirectory().resolveSibling("tracker.log"), "started\n");
        }
      };
    }
  }

  /** Accepts everything and does nothing. */
  private static class QuietTracker implements ExperimentTracker {
    @Override
    public String name() {
      return "quiet";
    }

    @Override
    public void runStarted(RunStart start) throws Exception {}

    @Override
    public void metrics(MetricsRecord record) throws Exception {}

    @Override
    public void runEnded(RunEnd end) throws Exception {}

    @Override
    public void close() {}
  }
}
