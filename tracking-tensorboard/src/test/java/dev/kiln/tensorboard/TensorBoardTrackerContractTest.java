package dev.kiln.tensorboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tensorboard.internal.Tags;
import dev.kiln.testing.ExperimentTrackerContractTest;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Kiln's tracker contract, plus what TensorBoard would show after each run. */
class TensorBoardTrackerContractTest extends ExperimentTrackerContractTest {

  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    return TensorBoardTracker.create(TensorBoardConfig.defaults());
  }

  @Override
  protected void verifyFinishedRun(Path runDirectory, List<MetricsRecord> sent) throws Exception {
    assertShows(runDirectory, sent);
  }

  @Override
  protected void verifyResumedRun(
      Path runDirectory,
      ResumeInfo resume,
      List<MetricsRecord> sentBefore,
      List<MetricsRecord> sentAfter)
      throws Exception {
    List<MetricsRecord> survivors = new ArrayList<>();
    sentBefore.stream().filter(r -> r.step() <= resume.step()).forEach(survivors::add);
    survivors.addAll(sentAfter);
    assertShows(runDirectory, survivors);
  }

  /** Every tag's series is exactly the records' values at their steps, nothing else. */
  private static void assertShows(Path runDirectory, List<MetricsRecord> records) throws Exception {
    Map<String, List<Long>> steps = new LinkedHashMap<>();
    Map<String, List<Float>> values = new LinkedHashMap<>();
    for (MetricsRecord r : records) {
      String prefix = r.kind() == MetricsRecord.Kind.EPOCH ? "epoch/" : "step/";
      r.values()
          .forEach(
              (key, value) -> {
                String tag = Tags.sanitize(prefix + key);
                steps.computeIfAbsent(tag, t -> new ArrayList<>()).add(r.step());
                values.computeIfAbsent(tag, t -> new ArrayList<>()).add((float) (double) value);
              });
    }
    TensorBoardView view = TensorBoardView.load(runDirectory.resolve("tensorboard"));
    assertThat(view.endings.values())
        .allSatisfy(e -> assertThat(e.end()).isEqualTo(TfRecordReader.End.CLEAN));
    List<String> metricTags =
        view.tagsOf("scalars").stream().filter(t -> !t.startsWith("summary/")).toList();
    assertThat(metricTags).containsExactlyInAnyOrderElementsOf(steps.keySet());
    for (String tag : steps.keySet()) {
      assertThat(view.steps(tag))
          .as(tag)
          .isEqualTo(steps.get(tag))
          .isSorted()
          .doesNotHaveDuplicates();
      assertThat(view.scalars(tag)).as(tag).isEqualTo(values.get(tag));
    }
  }
}
