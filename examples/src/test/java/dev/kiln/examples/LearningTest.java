package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The foundation's proof: the seed CNN trained with Kiln really learns Fashion-MNIST. */
class LearningTest {

  @TempDir Path temp;

  @Test
  void oneEpochOnTwoThousandImagesReachesWellAboveChance() throws Exception {
    Path data = TestData.fashionMnist();
    Path runDir = temp.resolve("run");

    TestData.Run run =
        TestData.run(
            "--data",
            data.toString(),
            "--run-dir",
            runDir.toString(),
            "--epochs",
            "1",
            "--limit",
            "2000",
            "--test-limit",
            "1000",
            "--trackers",
            "jsonl,csv");

    assertThat(run.status()).as("stderr: %s", run.err()).isZero();
    List<JsonNode> epochs = TestData.epochRecords(runDir);
    assertThat(epochs).hasSize(1);
    JsonNode epoch = epochs.get(0);
    // Chance is 0.10. With seed 1 this run reaches test_acc 0.754 (test_loss 0.779) every time on
    // this CPU build: Kiln seeds initialization, data order and dropout, so the number is
    // reproducible, not a lucky draw. 0.55 leaves room for other seeds, engines and BLAS builds
    // (seeds 2, 3, 4 measured 0.769, 0.712, 0.736) while a broken model, loss, optimizer or data
    // pipeline
    // (labels misaligned, no update, exploding lr) stays near 0.10–0.30.
    assertThat(epoch.get("test_acc").asDouble()).isGreaterThanOrEqualTo(0.55);
    assertThat(epoch.get("test_loss").asDouble()).isLessThan(1.5); // chance: ln 10 = 2.30
    assertThat(epoch.has("time_taken")).isTrue();
    assertThat(epoch.get("lr").asDouble()).isEqualTo(1.0);

    // The CSV plugin was found by name through ServiceLoader and wrote the same epoch.
    assertThat(Files.readAllLines(runDir.resolve("metrics.csv")))
        .contains("32,1,epoch,test_acc," + epoch.get("test_acc").asDouble());
  }
}
