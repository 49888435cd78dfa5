package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import dev.kiln.optim.Adadelta;
import dev.kiln.optim.Adam;
import dev.kiln.optim.LrSchedules;
import dev.kiln.optim.Optimizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Resume parity: a run interrupted after a checkpoint and continued with fresh objects (model,
 * optimizer, trainer — as after a restart) ends bitwise equal to an uninterrupted run. Bitwise, not
 * within a tolerance: the same ops run in the same order on the same values, the data order is a
 * function of (seed, epoch), and dropout is re-seeded from (seed, step).
 */
class TrainerResumeTest {
  @TempDir Path dir;

  static final FakeDataset TRAIN = FakeDataset.of(96);
  static final FakeDataset VALIDATION = FakeDataset.of(40);

  static Optimizer optimizer(String name) {
    return name.equals("adam")
        ? Adam.builder().learningRate(0.01).build()
        : Adadelta.builder().learningRate(1.0).build();
  }

  static TrainerConfig.Builder config(String optimizer, Path runDir) {
    return TrainerConfig.builder(Loss.softmaxCrossEntropyLoss(), optimizer(optimizer))
        .schedule(LrSchedules.step(1, 0.7))
        .batchSize(16)
        .seed(7)
        .runDirectory(runDir)
        .trackerNames(List.of("jsonl"))
        .progress(TrainerConfig.Progress.OFF)
        .handleSignals(false);
  }

  /** Trains fresh objects and returns the final parameters by path. */
  static Trained train(TrainerConfig config) {
    try (Model model = Model.newInstance("m")) {
      model.setBlock(Nets.mlp(true));
      FitResult result = Trainer.fit(model, TRAIN, VALIDATION, config);
      return new Trained(result, parameters(model.getBlock()));
    }
  }

  record Trained(FitResult result, Map<String, float[]> parameters) {}

  static Map<String, float[]> parameters(Block block) {
    Map<String, float[]> m = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : block.getParameters()) {
      m.put(p.getKey(), p.getValue().getArray().toFloatArray());
    }
    return m;
  }

  static void assertSameParameters(Map<String, float[]> a, Map<String, float[]> b) {
    assertThat(a.keySet()).containsExactlyElementsOf(b.keySet());
    for (String k : a.keySet()) {
      assertThat(a.get(k)).as(k).containsExactly(b.get(k));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"adam", "adadelta"})
  void oneEpochThenResumeWithFreshObjectsEqualsTwoStraightEpochsBitwise(String opt) {
    Trained straight = train(config(opt, dir.resolve("straight")).epochs(2).build());

    Path resumed = dir.resolve("resumed");
    train(config(opt, resumed).epochs(1).build());
    Trained second = train(config(opt, resumed).epochs(2).resume(Resume.latest()).build());

    assertThat(second.result().epochs()).hasSize(1);
    assertThat(second.result().last().get().epoch()).isEqualTo(2);
    assertSameParameters(second.parameters(), straight.parameters());
    assertThat(second.result().last().get().metric("val_loss"))
        .isEqualTo(straight.result().last().get().metric("val_loss"));
    assertThat(second.result().step()).isEqualTo(straight.result().step());
  }

  @Test
  void resumeFromAMidEpochCheckpointEqualsTheUninterruptedRunBitwise() throws IOException {
    CheckpointPolicy everyFiveSteps =
        CheckpointPolicy.builder().everySteps(5).keepLast(100).build();
    Path straightDir = dir.resolve("straight");
    Trained straight =
        train(config("adam", straightDir).epochs(2).checkpoints(everyFiveSteps).build());

    // 96 samples / 16 = 6 steps per epoch: the checkpoint at step 10 is in the middle of epoch 2.
    Path crashed = dir.resolve("crashed");
    copy(straightDir, crashed);
    try (Stream<Path> s = Files.list(crashed.resolve("checkpoints"))) {
      for (Path c : s.toList()) {
        if (c.getFileName().toString().compareTo("ckpt-000000000010") > 0) {
          delete(c);
        }
      }
    }
    Trained resumed =
        train(
            config("adam", crashed)
                .epochs(2)
                .checkpoints(everyFiveSteps)
                .resume(Resume.latest())
                .build());

    assertSameParameters(resumed.parameters(), straight.parameters());
    assertThat(resumed.result().last().get().metric("val_loss"))
        .isEqualTo(straight.result().last().get().metric("val_loss"));
    assertThat(resumed.result().last().get().metric("train_loss"))
        .isEqualTo(straight.result().last().get().metric("train_loss"));
  }

  @Test
  void asynchronousCheckpointsResumeAsExactlyAsSynchronousOnes() {
    CheckpointPolicy async = CheckpointPolicy.builder().async(true).build();
    Trained straight = train(config("adam", dir.resolve("straight")).epochs(3).build());

    Path resumed = dir.resolve("resumed");
    Trained first = train(config("adam", resumed).epochs(1).checkpoints(async).build());
    assertThat(first.result().lastCheckpoint())
        .as("fit returns after the background save")
        .isPresent();
    assertThat(first.result().lastCheckpoint().get()).exists();
    Trained second =
        train(config("adam", resumed).epochs(3).checkpoints(async).resume(Resume.latest()).build());

    assertSameParameters(second.parameters(), straight.parameters());
    assertThat(second.result().lastCheckpoint().get().getFileName().toString())
        .startsWith("ckpt-000000000018");
  }

  @Test
  void resumingWithoutTheOptimizerStateBreaksParity() {
    Trained straight = train(config("adam", dir.resolve("straight")).epochs(2).build());

    Path resumed = dir.resolve("resumed");
    train(config("adam", resumed).epochs(1).build());
    dev.kiln.internal.TestHooks.skipOptimizerStateOnResume(true);
    try {
      Trained second = train(config("adam", resumed).epochs(2).resume(Resume.latest()).build());
      Map<String, float[]> a = second.parameters();
      Map<String, float[]> b = straight.parameters();
      boolean anyDifferent =
          a.keySet().stream().anyMatch(k -> !java.util.Arrays.equals(a.get(k), b.get(k)));
      assertThat(anyDifferent)
          .as("parameters differ when Adam's moments are not restored")
          .isTrue();
    } finally {
      dev.kiln.internal.TestHooks.skipOptimizerStateOnResume(false);
    }
  }

  @Test
  void resumedRunKeepsItsRunIdAndTrackersLearnTheResumePoint() throws IOException {
    Path run = dir.resolve("run");
    Trained first = train(config("adam", run).epochs(1).build());
    RecordingTracker recording = new RecordingTracker();
    Trained second =
        train(config("adam", run).epochs(2).resume(Resume.latest()).tracker(recording).build());

    assertThat(second.result().runId()).isEqualTo(first.result().runId());
    assertThat(recording.starts).hasSize(1);
    assertThat(recording.starts.get(0).runId()).isEqualTo(first.result().runId());
    assertThat(recording.starts.get(0).resume()).isPresent();
    assertThat(recording.starts.get(0).resume().get().step()).isEqualTo(6);
    assertThat(recording.starts.get(0).resume().get().epoch()).isEqualTo(1);
    List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).contains("\"epoch\":1");
    assertThat(lines.get(1)).contains("\"epoch\":2");
  }

  @Test
  void aNewRunRefusesADirectoryHoldingAnotherRunsCheckpoints() {
    Path run = dir.resolve("run");
    train(config("adam", run).epochs(1).build());
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> train(config("adam", run).epochs(1).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("already holds checkpoints")
        .hasMessageContaining("resume");
  }

  @Test
  void resumeLatestWithOnlyDamagedCheckpointsFailsAndLeavesThemInPlace() throws IOException {
    Path run = dir.resolve("run");
    train(config("adam", run).epochs(1).build());
    Path ckpt;
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      ckpt =
          s.filter(p -> p.getFileName().toString().startsWith("ckpt-")).findFirst().orElseThrow();
    }
    Path model = ckpt.resolve("model.ndlist");
    byte[] bytes = Files.readAllBytes(model);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(model, bytes);

    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> train(config("adam", run).epochs(2).resume(Resume.latest()).build()))
        .isInstanceOf(TrainingException.class)
        .hasMessageContaining("No valid checkpoint")
        .hasMessageContaining("model.ndlist");
    assertThat(Files.readAllBytes(model)).isEqualTo(bytes);
  }

  @Test
  void aResumeChecksEachFilesSha256OnlyWhenThePolicyAsksForIt() throws IOException {
    Path run = dir.resolve("run");
    train(config("adam", run).epochs(1).build());
    Path manifest;
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      manifest =
          s.filter(p -> p.getFileName().toString().startsWith("ckpt-"))
              .findFirst()
              .orElseThrow()
              .resolve("manifest.json");
    }
    // A manifest whose SHA-256 for the model disagrees with the file while its part CRC32Cs agree.
    com.fasterxml.jackson.databind.ObjectMapper mapper =
        new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode root =
        (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(manifest.toFile());
    for (com.fasterxml.jackson.databind.JsonNode file : root.get("files")) {
      if (file.get("name").asText().equals("model.ndlist")) {
        ((com.fasterxml.jackson.databind.node.ObjectNode) file).put("sha256", "0".repeat(64));
      }
    }
    mapper.writeValue(manifest.toFile(), root);
    CheckpointPolicy sha256 =
        CheckpointPolicy.builder().verification(dev.kiln.checkpoint.Verification.SHA256).build();

    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                train(
                    config("adam", run)
                        .epochs(2)
                        .checkpoints(sha256)
                        .resume(Resume.latest())
                        .build()))
        .isInstanceOf(TrainingException.class)
        .hasMessageContaining("No valid checkpoint")
        .hasMessageContaining("model.ndlist: SHA-256 is ");

    Trained resumed = train(config("adam", run).epochs(2).resume(Resume.latest()).build());
    // The default (part CRC32Cs) accepts it: the bytes are intact. It resumed after epoch 1.
    assertThat(resumed.result().epochs()).hasSize(1);
    assertThat(resumed.result().epochs().get(0).epoch()).isEqualTo(2);
  }

  @Test
  void checkpointsWithUnreadableManifestsStillBlockANewRunAndFailAResume() throws IOException {
    Path run = dir.resolve("run");
    train(config("adam", run).epochs(1).build());
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      for (Path c : s.toList()) {
        Files.writeString(c.resolve("manifest.json"), "garbage");
      }
    }
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> train(config("adam", run).epochs(2).resume(Resume.latest()).build()))
        .isInstanceOf(TrainingException.class)
        .hasMessageContaining("No valid checkpoint");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> train(config("adam", run).epochs(1).build()))
        .hasMessageContaining("already holds checkpoints");
  }

  @Test
  void anUnknownTrackerNameWritesNothing() {
    Path run = dir.resolve("never-created");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> train(config("adam", run).trackerNames(List.of("nope")).build()))
        .hasMessageContaining("Unknown tracker 'nope'");
    assertThat(run).doesNotExist();
  }

  static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }

  static void delete(Path p) throws IOException {
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
