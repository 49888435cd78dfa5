package dev.kiln.testing.example;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testing.ExperimentTrackerContractTest;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The kit as a plugin author uses it, from the plugin's own package. */
class CsvTrackerContractTest extends ExperimentTrackerContractTest {

  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    return new CsvTracker(runDirectory.resolve("metrics.csv"));
  }

  @Override
  protected void verifyFinishedRun(Path runDirectory, List<MetricsRecord> sent) throws Exception {
    List<String> lines = Files.readAllLines(runDirectory.resolve("metrics.csv"));
    assertThat(lines).contains("3,train_loss,NaN", "4,train_loss,Infinity", "# FINISHED");
  }

  @Override
  protected void verifyResumedRun(
      Path runDirectory,
      ResumeInfo resume,
      List<MetricsRecord> sentBefore,
      List<MetricsRecord> sentAfter)
      throws Exception {
    assertThat(Files.readAllLines(runDirectory.resolve("metrics.csv")))
        .contains("# resumed at step " + resume.step())
        .endsWith("# FINISHED");
  }
}
