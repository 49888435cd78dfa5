package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

class RecordingTrackerContractTest extends ExperimentTrackerContractTest {

  private final List<RecordingTracker> created = new ArrayList<>();

  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    RecordingTracker tracker = new RecordingTracker();
    created.add(tracker);
    return tracker;
  }

  @Override
  protected void verifyFinishedRun(Path runDirectory, List<MetricsRecord> sent) {
    RecordingTracker tracker = created.get(0);
    assertThat(tracker.metrics()).isEqualTo(sent);
    assertThat(tracker.runEnds())
        .extracting(RunEnd::outcome)
        .containsExactly(RunEnd.Outcome.FINISHED);
    assertThat(tracker.contractViolations()).isEmpty();
  }

  @Override
  protected void verifyResumedRun(
      Path runDirectory,
      ResumeInfo resume,
      List<MetricsRecord> sentBefore,
      List<MetricsRecord> sentAfter) {
    assertThat(created).hasSize(2);
    assertThat(created.get(0).metrics()).isEqualTo(sentBefore);
    RecordingTracker second = created.get(1);
    assertThat(second.runStarts().get(0).resume()).contains(resume);
    assertThat(second.metrics()).isEqualTo(sentAfter);
    assertThat(second.contractViolations()).isEmpty();
  }
}
