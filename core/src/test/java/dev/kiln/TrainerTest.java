package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.training.loss.Loss;
import dev.kiln.optim.Adam;
import dev.kiln.optim.Sgd;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
  @TempDir Path dir;

  TrainerConfig.Builder config() {
    return TrainerConfig.builder(
            Loss.softmaxCrossEntropyLoss(), Adam.builder().learningRate(0.01).build())
        .batchSize(16)
        .seed(3)
        .runDirectory(dir.resolve("run"))
        .trackerNames(List.of())
        .progress(TrainerConfig.Progress.OFF)
        .handleSignals(false);
  }

  static FitResult fit(
      Block block, FakeDataset train, FakeDataset validation, TrainerConfig config) {
    try (Model model = Model.newInstance("m")) {
      model.setBlock(block);
      return Trainer.fit(model, train, validation, config);
    }
  }

  @Test
  void aSmallModelLearnsAndEveryEpochReportsItsMetricsAndTimeSplit() {
    RecordingTracker recording = new RecordingTracker();
    FitResult r =
        fit(
            Nets.mlp(false),
            FakeDataset.of(256),
            FakeDataset.of(64),
            config().epochs(3).tracker(recording).build());

    assertThat(r.outcome()).isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(r.epochs()).hasSize(3);
    // Four well-separated blobs: chance is 0.25; a working loop gets far above it in 3 epochs.
    assertThat(r.last().get().metric("val_accuracy")).isGreaterThan(0.8);
    assertThat(r.epochs().get(2).metric("train_loss"))
        .isLessThan(r.epochs().get(0).metric("train_loss"));
    assertThat(r.step()).isEqualTo(3 * 16);
    for (String key :
        List.of(
            "epoch",
            "train_loss",
            "val_loss",
            "val_accuracy",
            "lr",
            "time_taken",
            "time_data",
            "time_compute",
            "time_validation",
            "time_tracking",
            "time_checkpoint",
            "samples_per_sec")) {
      assertThat(r.last().get().metrics()).containsKey(key);
    }
    EpochResult e = r.last().get();
    assertThat(e.metric("time_data") + e.metric("time_compute"))
        .isLessThanOrEqualTo(e.metric("time_taken") + 1e-6);
    assertThat(recording.starts).hasSize(1);
    assertThat(recording.ends).hasSize(1);
    assertThat(recording.ends.get(0).outcome()).isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(recording.metrics).filteredOn(m -> m.kind() == MetricsRecord.Kind.EPOCH).hasSize(3);
    assertThat(recording.metrics.get(2).notes()).containsKey("verdict");
  }

  @Test
  void aFitRefusesARunDirectoryAnotherFitHoldsAndWritesNothingThere() throws Exception {
    Path run = Files.createDirectories(dir.resolve("run"));
    // What a fit still running on another thread (a notebook cell run twice) holds.
    try (java.nio.channels.FileChannel held =
            java.nio.channels.FileChannel.open(
                run.resolve(".kiln.lock"),
                java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE);
        java.nio.channels.FileLock lock = held.lock()) {
      assertThatThrownBy(
              () ->
                  fit(
                      Nets.mlp(false),
                      FakeDataset.of(64),
                      FakeDataset.of(32),
                      config().epochs(1).trackerNames(List.of("jsonl")).build()))
          .isInstanceOf(TrainingException.class)
          .hasMessageContaining("Another fit in this JVM is still running in " + run);
      assertThat(run.resolve("metrics.jsonl")).doesNotExist();
      assertThat(run.resolve("checkpoints")).doesNotExist();
    }

    FitResult after =
        fit(
            Nets.mlp(false),
            FakeDataset.of(64),
            FakeDataset.of(32),
            config().epochs(1).trackerNames(List.of("jsonl")).build());

    assertThat(after.outcome()).isEqualTo(RunEnd.Outcome.FINISHED);
  }

  @Test
  void theRunDirectoryGetsConfigDeviceReportMetricsAndCheckpoints() throws Exception {
    fit(
        Nets.mlp(false),
        FakeDataset.of(64),
        FakeDataset.of(32),
        config().epochs(2).trackerNames(List.of("jsonl")).build());
    Path run = dir.resolve("run");
    assertThat(run.resolve("config.json")).exists();
    assertThat(Files.readString(run.resolve("config.json")))
        .contains("\"batch_size\" : 16", "\"run_id\"");
    assertThat(Files.readString(run.resolve("device.json"))).contains("cpu()");
    List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertThat(lines).hasSize(2);
    assertThat(lines.get(1))
        .contains("\"kind\":\"epoch\"", "\"val_loss\"", "\"time_taken\"", "\"lr\"", "\"verdict\"");
    try (var s = Files.list(run.resolve("checkpoints"))) {
      assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ckpt-")))
          .hasSize(2);
    }
  }

  @Test
  void histogramsOfWeightsAndGradientsReachTrackersEveryNthEpochOnly() {
    RecordingTracker recording = new RecordingTracker();
    fit(
        Nets.mlp(false),
        FakeDataset.of(64),
        FakeDataset.of(16),
        config().epochs(4).histogramEveryEpochs(2).tracker(recording).build());
    List<dev.kiln.tracking.HistogramRecord> got = recording.histograms;

    assertThat(got).extracting(dev.kiln.tracking.HistogramRecord::step).containsExactly(8L, 16L);
    var tags =
        got.get(0).histograms().stream()
            .map(dev.kiln.tracking.HistogramRecord.Histogram::tag)
            .toList();
    assertThat(tags)
        .anyMatch(t -> t.startsWith("weights/"))
        .anyMatch(t -> t.startsWith("gradients/"));
    var gradient =
        got.get(0).histograms().stream()
            .filter(h -> h.tag().startsWith("gradients/"))
            .findFirst()
            .get();
    assertThat(gradient.count()).isPositive();
    assertThat(gradient.max() - gradient.min()).as("a real gradient, not zeros").isPositive();
  }

  @Test
  void microBatchesGiveTheSameUpdatesAsWholeBatches() {
    TrainerConfig.Builder base =
        TrainerConfig.builder(
                Loss.softmaxCrossEntropyLoss(),
                Sgd.builder().learningRate(0.1).momentum(0.9).build())
            .batchSize(16)
            .seed(3)
            .epochs(2)
            .trackerNames(List.of())
            .progress(TrainerConfig.Progress.OFF)
            .handleSignals(false);
    FakeDataset train = FakeDataset.of(100); // the last batch (4) is smaller than the rest
    FakeDataset validation = FakeDataset.of(32);
    float[][] whole;
    FitResult a;
    try (Model m = Model.newInstance("a")) {
      m.setBlock(Nets.mlp(false));
      a = Trainer.fit(m, train, validation, base.runDirectory(dir.resolve("a")).build());
      whole = TrainerResumeTest.parameters(m.getBlock()).values().toArray(new float[0][]);
    }
    float[][] split;
    FitResult b;
    try (Model m = Model.newInstance("b")) {
      m.setBlock(Nets.mlp(false));
      b =
          Trainer.fit(
              m, train, validation, base.runDirectory(dir.resolve("b")).microBatches(3).build());
      split = TrainerResumeTest.parameters(m.getBlock()).values().toArray(new float[0][]);
    }
    assertThat(b.step())
        .as("one optimizer update per batch, whatever the shard count")
        .isEqualTo(a.step());
    for (int i = 0; i < whole.length; i++) {
      for (int j = 0; j < whole[i].length; j++) {
        // Summing three shard gradients reorders float additions: equal up to rounding.
        assertThat(split[i][j]).isCloseTo(whole[i][j], org.assertj.core.data.Offset.offset(1e-5f));
      }
    }
  }

  @Test
  void aNanLossStopsTrainingNamingEpochAndStep() {
    assertThatThrownBy(
            () ->
                fit(
                    Nets.mlp(false),
                    FakeDataset.withNanAt(64, 40),
                    FakeDataset.of(16),
                    config().workers(0).checkpoints(CheckpointPolicy.none()).build()))
        .isInstanceOf(TrainingException.class)
        .hasMessageContaining("Loss is NaN at epoch 1, step")
        .hasMessageContaining("SKIP_BATCH");
  }

  @Test
  void aNanLossSkipsTheBatchWhenAskedAndTrainingGoesOn() {
    FitResult r =
        fit(
            Nets.mlp(false),
            FakeDataset.withNanAt(64, 40),
            FakeDataset.of(16),
            config().epochs(2).nonFiniteLoss(TrainerConfig.NonFiniteLoss.SKIP_BATCH).build());
    assertThat(r.outcome()).isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(r.epochs().get(0).metric("skipped_batches")).isEqualTo(1.0);
    assertThat(r.last().get().metric("val_loss")).isFinite();
    assertThat(r.step()).as("skipped batches make no update").isEqualTo(2 * 4 - 2);
  }

  @Test
  void labelsOutsideTheModelsOutputsFailAtTheFirstBatch() {
    assertThatThrownBy(
            () ->
                fit(
                    Nets.mlp(false),
                    FakeDataset.withLabelOffset(64, 3),
                    FakeDataset.of(16),
                    config().build()))
        .isInstanceOf(TrainingException.class)
        .hasMessageContaining("outside 0..3")
        .hasMessageContaining("4 outputs");
    assertThat(dir.resolve("run/checkpoints"))
        .satisfiesAnyOf(p -> assertThat(p).doesNotExist(), p -> assertThat(p).isEmptyDirectory());
  }

  @Test
  void dataOfTheWrongShapeFailsAtTheFirstBatchNamingBothShapes() {
    Block initialized;
    try (Model m = Model.newInstance("pre")) {
      initialized = Nets.mlp(false);
      m.setBlock(initialized);
      initialized.initialize(
          m.getNDManager(),
          ai.djl.ndarray.types.DataType.FLOAT32,
          new ai.djl.ndarray.types.Shape(16, 8));
      m.setBlock(initialized);
      assertThatThrownBy(
              () ->
                  Trainer.fit(
                      m,
                      FakeDataset.withFeatures(64, 5),
                      FakeDataset.withFeatures(16, 5),
                      config().build()))
          .isInstanceOf(TrainingException.class)
          .hasMessageContaining("(16, 5)")
          .hasMessageContaining("(16, 8)");
    }
  }

  @Test
  void anEmptyDatasetIsRejectedBeforeTraining() {
    assertThatThrownBy(
            () -> fit(Nets.mlp(false), FakeDataset.of(0), FakeDataset.of(16), config().build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("train dataset is empty");
  }

  @Test
  void anUnknownTrackerNameIsRejectedListingTheKnownOnes() {
    assertThatThrownBy(
            () ->
                fit(
                    Nets.mlp(false),
                    FakeDataset.of(32),
                    FakeDataset.of(16),
                    config().trackerNames(List.of("jsonl", "tensorbored")).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Unknown tracker 'tensorbored'")
        .hasMessageContaining("jsonl");
  }

  @Test
  void anUnknownDeviceFailsBeforeTrainingListingTheDevicesThere() {
    assertThatThrownBy(
            () ->
                fit(
                    Nets.mlp(false),
                    FakeDataset.of(32),
                    FakeDataset.of(16),
                    config().devices("gpu(3)").build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gpu(3)")
        .hasMessageContaining("only cpu");
  }

  @Test
  void aThrowingOrBlockedTrackerNeitherStopsNorStallsTrainingAndOthersStillGetTheirRunEnd() {
    ExperimentTracker throwing =
        new ExperimentTracker() {
          @Override
          public String name() {
            return "throwing";
          }

          @Override
          public void runStarted(RunStart start) {}

          @Override
          public void metrics(MetricsRecord record) {
            throw new IllegalStateException("boom");
          }

          @Override
          public void runEnded(RunEnd end) {
            throw new IllegalStateException("boom");
          }
        };
    CountDownLatch never = new CountDownLatch(1);
    ExperimentTracker blocked =
        new ExperimentTracker() {
          @Override
          public String name() {
            return "blocked";
          }

          @Override
          public void runStarted(RunStart start) {}

          @Override
          public void metrics(MetricsRecord record) throws InterruptedException {
            never.await();
          }

          @Override
          public void runEnded(RunEnd end) {}
        };
    RecordingTracker recording = new RecordingTracker();
    FitResult r =
        fit(
            Nets.mlp(false),
            FakeDataset.of(64),
            FakeDataset.of(16),
            config()
                .epochs(2)
                .logEverySteps(1)
                .tracker(throwing)
                .tracker(blocked)
                .tracker(recording)
                .trackerTimeout(java.time.Duration.ofMillis(200))
                .build());
    never.countDown();
    assertThat(r.outcome()).isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(r.trackerFailures())
        .containsEntry("throwing", 2L * 4 + 2 + 1)
        .containsEntry("recording", 0L);
    assertThat(recording.ends).hasSize(1);
    assertThat(recording.metrics).hasSize(2 * 4 + 2);
  }

  @Test
  void aDatasetThatSleepsMakesTheEpochInputBound() {
    FitResult r =
        fit(
            Nets.mlp(false),
            FakeDataset.slow(48, 10),
            FakeDataset.of(16),
            config().workers(1).build());
    assertThat(r.last().get().verdict())
        .startsWith("input-bound")
        .contains("raise workers (now 1)");
  }

  @Test
  void aModelThatSleepsMakesTheEpochComputeBound() {
    FitResult r =
        fit(
            Nets.slow(Nets.mlp(false), 40),
            FakeDataset.of(48),
            FakeDataset.of(16),
            config().build());
    assertThat(r.last().get().verdict()).startsWith("compute-bound");
  }

  @Test
  void aStopIsAnnouncedToTrackersBeforeTheFinalCheckpointIsWrittenAndTheRunEnds() {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    Clock fixed = Clock.fixed(now, ZoneOffset.UTC);
    RecordingTracker recording = new RecordingTracker();
    FitResult r =
        fit(
            Nets.mlp(false),
            FakeDataset.of(64),
            FakeDataset.of(16),
            config()
                .epochs(2)
                .clock(fixed)
                .deadline(now.plusSeconds(20))
                .tracker(recording)
                .build());

    assertThat(r.outcome()).isEqualTo(RunEnd.Outcome.INTERRUPTED);
    assertThat(recording.stops)
        .singleElement()
        .satisfies(
            stop -> {
              assertThat(stop.reason()).startsWith("deadline " + now.plusSeconds(20));
              assertThat(stop.step()).isEqualTo(1);
              assertThat(stop.epoch()).isZero();
              assertThat(stop.time()).isEqualTo(now);
            });
    // The flush that follows the final checkpoint's commit comes after the announcement.
    List<String> calls = recording.calls;
    assertThat(calls.indexOf("stopRequested")).isLessThan(calls.lastIndexOf("flush"));
    assertThat(calls.get(calls.size() - 1)).isEqualTo("runEnded");
  }

  @Test
  void aFinishedRunIsNeverAnnouncedAsStopping() {
    RecordingTracker recording = new RecordingTracker();
    fit(
        Nets.mlp(false),
        FakeDataset.of(32),
        FakeDataset.of(16),
        config().epochs(1).tracker(recording).build());

    assertThat(recording.ends)
        .singleElement()
        .extracting(RunEnd::outcome)
        .isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(recording.stops).isEmpty();
  }

  @Test
  void aNearDeadlineStopsAfterTheCurrentStepWithACheckpointAndTheRunResumesToTheEnd() {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    Clock fixed = Clock.fixed(now, ZoneOffset.UTC);
    FitResult first =
        fit(
            Nets.mlp(false),
            FakeDataset.of(64),
            FakeDataset.of(16),
            config().epochs(2).clock(fixed).deadline(now.plusSeconds(20)).build());
    assertThat(first.outcome()).isEqualTo(RunEnd.Outcome.INTERRUPTED);
    assertThat(first.step()).isEqualTo(1);
    assertThat(first.lastCheckpoint()).isPresent();

    FitResult second =
        fit(
            Nets.mlp(false),
            FakeDataset.of(64),
            FakeDataset.of(16),
            config().epochs(2).resume(Resume.latest()).build());
    assertThat(second.outcome()).isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(second.step()).isEqualTo(8);
  }
}
