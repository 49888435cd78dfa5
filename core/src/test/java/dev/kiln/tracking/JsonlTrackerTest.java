package dev.kiln.tracking;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonlTrackerTest {
  @TempDir Path dir;

  static RunStart start(Path dir, Optional<ResumeInfo> resume) {
    return new RunStart(
        "abcd1234",
        "r",
        dir,
        Instant.EPOCH,
        Map.of(),
        new DeviceReport("PyTorch", "2.7.1", List.of(), "test", 1),
        resume);
  }

  static MetricsRecord epoch(long step, int epoch, double loss) {
    return new MetricsRecord(
        MetricsRecord.Kind.EPOCH,
        step,
        epoch,
        Instant.EPOCH,
        Map.of("test_loss", loss, "epoch", (double) epoch),
        Map.of("verdict", "compute-bound"));
  }

  @Test
  void eachRecordIsOneJsonLineAndNonFiniteValuesAreWrittenAsStrings() throws Exception {
    JsonlTracker t = new JsonlTracker(dir);
    t.runStarted(start(dir, Optional.empty()));
    t.metrics(epoch(10, 1, 0.5));
    t.metrics(epoch(20, 2, Double.NaN));
    t.flush();
    List<String> lines = Files.readAllLines(dir.resolve("metrics.jsonl"));
    assertThat(lines)
        .containsExactly(
            "{\"kind\":\"epoch\",\"step\":10,\"epoch\":1,\"time\":\"1970-01-01T00:00:00Z\",\"test_loss\":0.5,\"verdict\":\"compute-bound\"}",
            "{\"kind\":\"epoch\",\"step\":20,\"epoch\":2,\"time\":\"1970-01-01T00:00:00Z\",\"test_loss\":\"NaN\",\"verdict\":\"compute-bound\"}");
    t.close();
    t.close();
  }

  @Test
  void aResumedRunDropsTheLinesTheCrashedProcessWroteAfterTheCheckpoint() throws Exception {
    JsonlTracker crashed = new JsonlTracker(dir);
    crashed.runStarted(start(dir, Optional.empty()));
    crashed.metrics(epoch(10, 1, 0.5));
    crashed.metrics(epoch(20, 2, 0.4));
    crashed.flush();
    Files.writeString(
        dir.resolve("metrics.jsonl"), "{\"kind\":\"ep", java.nio.file.StandardOpenOption.APPEND);

    JsonlTracker resumed = new JsonlTracker(dir);
    resumed.runStarted(start(dir, Optional.of(new ResumeInfo(10, 1, "ckpt"))));
    resumed.metrics(epoch(20, 2, 0.45));
    resumed.runEnded(new RunEnd(RunEnd.Outcome.FINISHED, 20, 2, Instant.EPOCH, Optional.empty()));
    resumed.close();
    List<String> lines = Files.readAllLines(dir.resolve("metrics.jsonl"));
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).contains("\"step\":10");
    assertThat(lines.get(1)).contains("\"step\":20", "0.45");
  }
}
