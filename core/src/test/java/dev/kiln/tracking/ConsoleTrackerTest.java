package dev.kiln.tracking;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConsoleTrackerTest {
  @Test
  void anEpochPrintsTheMetricsTheCourseNotesElapsedTimeLineAndTheVerdict() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ConsoleTracker t = new ConsoleTracker(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    t.metrics(
        new MetricsRecord(
            MetricsRecord.Kind.EPOCH,
            938,
            1,
            Instant.EPOCH,
            Map.of(
                "test_loss",
                0.3312,
                "test_acc",
                0.881,
                "lr",
                1.0,
                "time_taken",
                61.234,
                "time_data",
                0.5,
                "time_compute",
                60.5,
                "time_validation",
                4.0,
                "time_tracking",
                0.001,
                "time_checkpoint",
                0.2,
                "samples_per_sec",
                980.0),
            Map.of("verdict", "compute-bound: 99% of training computing")));
    t.metrics(
        new MetricsRecord(
            MetricsRecord.Kind.STEP, 939, 2, Instant.EPOCH, Map.of("train_loss", 1.0), Map.of()));
    String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
    assertThat(lines).hasSize(3);
    assertThat(lines[0])
        .isEqualTo("Epoch 1 (step 938): lr 1.0000 test_acc 0.8810 test_loss 0.3312");
    assertThat(lines[1])
        .startsWith("Elapsed time is 61.23 s (data wait 0.50 s, compute 60.50 s; 980 samples/s)");
    assertThat(lines[2]).isEqualTo("Bottleneck: compute-bound: 99% of training computing");
  }
}
