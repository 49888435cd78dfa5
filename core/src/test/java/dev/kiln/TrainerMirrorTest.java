package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.checkpoint.CheckpointStore;
import dev.kiln.internal.TestHooks;
import dev.kiln.tracking.RunEnd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerMirrorTest {
  @TempDir Path dir;

  @AfterEach
  void restoreCopier() {
    TestHooks.mirrorCopier(null);
  }

  TrainerConfig.Builder config(Path run) {
    return TrainerResumeTest.config("adam", run).mirror(dir.resolve("drive"));
  }

  @Test
  void aMirrorThatNeverAnswersDoesNotHoldUpTrainingAndCatchesUpWhenItDoes() throws Exception {
    CountDownLatch drive = new CountDownLatch(1);
    CountDownLatch copying = new CountDownLatch(1);
    TestHooks.mirrorCopier(
        (from, to) -> {
          copying.countDown();
          try {
            drive.await();
          } catch (InterruptedException e) {
            throw new java.io.InterruptedIOException();
          }
          Files.copy(from, to);
        });

    TrainerResumeTest.Trained t =
        TrainerResumeTest.train(
            config(dir.resolve("run")).epochs(3).mirrorTimeout(Duration.ZERO).build());

    assertThat(copying.await(10, TimeUnit.SECONDS)).as("the mirror had started copying").isTrue();
    assertThat(t.result().outcome())
        .as("fit finished while the drive was stuck")
        .isEqualTo(RunEnd.Outcome.FINISHED);
    assertThat(t.result().step()).isEqualTo(18);
    Path mirrorCheckpoints = dir.resolve("drive/run/checkpoints");
    assertThat(committed(mirrorCheckpoints)).isEmpty();

    drive.countDown();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline
        && !committed(mirrorCheckpoints).contains("ckpt-000000000018-e0003")) {
      Thread.onSpinWait();
    }
    // Opened only now: opening a store cleans temporary folders, which would break a save in
    // flight.
    CheckpointStore mirror = CheckpointStore.builder(mirrorCheckpoints).build();
    assertThat(mirror.latestValid())
        .as("the newest checkpoint reached the mirror")
        .hasValueSatisfying(c -> assertThat(c.step()).isEqualTo(18));
    assertThat(dir.resolve("drive/run/logs/metrics.jsonl")).exists();
  }

  static List<String> committed(Path checkpoints) throws java.io.IOException {
    if (!Files.isDirectory(checkpoints)) {
      return List.of();
    }
    try (var s = Files.list(checkpoints)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ckpt-")).toList();
    }
  }

  @Test
  void aFreshMachineWithOnlyTheMirrorResumesTheSameRunExactly() throws Exception {
    TrainerResumeTest.Trained straight =
        TrainerResumeTest.train(
            TrainerResumeTest.config("adam", dir.resolve("straight")).epochs(2).build());

    Path run = dir.resolve("machine1/run");
    TrainerResumeTest.Trained first = TrainerResumeTest.train(config(run).epochs(1).build());
    TrainerResumeTest.delete(dir.resolve("machine1"));

    Path fresh = dir.resolve("machine2/run");
    TrainerResumeTest.Trained second =
        TrainerResumeTest.train(config(fresh).epochs(2).resume(Resume.latest()).build());

    assertThat(second.result().runId()).isEqualTo(first.result().runId());
    assertThat(second.result().epochs()).hasSize(1);
    TrainerResumeTest.assertSameParameters(second.parameters(), straight.parameters());
    List<String> lines = Files.readAllLines(fresh.resolve("metrics.jsonl"));
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).contains("\"epoch\":1");
    assertThat(lines.get(1)).contains("\"epoch\":2");
  }
}
