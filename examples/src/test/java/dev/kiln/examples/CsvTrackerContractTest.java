package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testing.ExperimentTrackerContractTest;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The CSV plugin keeps the tracker contract, and its file reads as one run after a resume. */
class CsvTrackerContractTest extends ExperimentTrackerContractTest {

  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    return new CsvTrackerProvider()
        .create(
            new dev.kiln.tracking.TrackerContext(
                runDirectory, java.util.Map.of(), java.time.Clock.systemUTC()));
  }

  @Override
  protected void verifyFinishedRun(Path runDirectory, List<MetricsRecord> sent) throws Exception {
    List<String> lines = Files.readAllLines(runDirectory.resolve("metrics.csv"));
    long values = sent.stream().mapToLong(r -> r.values().size()).sum();
    assertThat(lines.get(0)).isEqualTo(CsvTracker.HEADER);
    assertThat(lines).hasSize(1 + (int) values);
    assertThat(lines).contains("3,1,step,train_loss,NaN", "4,1,step,train_loss,Infinity");
  }

  @Override
  protected void verifyResumedRun(
      Path runDirectory,
      ResumeInfo resume,
      List<MetricsRecord> sentBefore,
      List<MetricsRecord> sentAfter)
      throws Exception {
    List<String> lines = Files.readAllLines(runDirectory.resolve("metrics.csv"));
    assertThat(lines).filteredOn(l -> l.equals(CsvTracker.HEADER)).hasSize(1);
    long[] steps = lines.stream().skip(1).mapToLong(l -> Long.parseLong(l.split(",")[0])).toArray();
    for (int i = 1; i < steps.length; i++) {
      assertThat(steps[i])
          .as("steps never decrease in metrics.csv")
          .isGreaterThanOrEqualTo(steps[i - 1]);
    }
    long kept =
        sentBefore.stream()
            .filter(r -> r.step() <= resume.step())
            .mapToLong(r -> r.values().size())
            .sum();
    long after = sentAfter.stream().mapToLong(r -> r.values().size()).sum();
    assertThat(steps).hasSize((int) (kept + after));
  }
}
