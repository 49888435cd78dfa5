package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.TestCheckpoints.bytesWriter;
import static dev.kiln.checkpoint.TestCheckpoints.steps;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.checkpoint.Retention.Direction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetentionTest {

  @TempDir Path dir;

  private CheckpointStore store(Retention retention) {
    return CheckpointStore.builder(dir).retention(retention).build();
  }

  private static void save(CheckpointStore store, int epoch, long step, double loss) {
    store.save(
        CheckpointRequest.builder(epoch, step).metric("test_loss", loss).build(),
        bytesWriter(64, epoch));
  }

  @Test
  void defaultsKeepLastThreeAndNothingElse() {
    Retention r = Retention.defaults();

    assertThat(r.keepLast()).isEqualTo(3);
    assertThat(r.keepBest()).isZero();
    assertThat(r.bestMetric()).isEmpty();
    assertThat(r.keepEveryEpochs()).isZero();
  }

  @Test
  void keepLastKeepsTheNewestN() {
    CheckpointStore store = store(Retention.builder().keepLast(2).build());
    for (int step = 1; step <= 5; step++) {
      save(store, step, step, 1.0);
    }

    assertThat(steps(store)).containsExactly(4L, 5L);
  }

  @Test
  void keepBestKeepsLowestMetricBesideTheLast() {
    CheckpointStore store =
        store(Retention.builder().keepLast(2).keepBest(2, "test_loss", Direction.MIN).build());
    double[] losses = {0.9, 0.2, 0.5, 0.1, 0.7, 0.8, 0.6};
    for (int i = 0; i < losses.length; i++) {
      save(store, i + 1, (i + 1) * 10, losses[i]);
    }

    // best two: step 40 (0.1), step 20 (0.2); last two: 60, 70
    assertThat(steps(store)).containsExactly(20L, 40L, 60L, 70L);
  }

  @Test
  void keepBestWithMaxKeepsHighestAndIgnoresNaNAndMissingMetric() {
    CheckpointStore store =
        store(Retention.builder().keepLast(1).keepBest(1, "acc", Direction.MAX).build());
    store.save(CheckpointRequest.builder(0, 1).metric("acc", 0.5).build(), bytesWriter(8, 1));
    store.save(
        CheckpointRequest.builder(0, 2).metric("acc", Double.NaN).build(), bytesWriter(8, 2));
    store.save(CheckpointRequest.builder(0, 3).metric("acc", 0.4).build(), bytesWriter(8, 3));
    store.save(CheckpointRequest.of(0, 4), bytesWriter(8, 4));

    assertThat(steps(store)).containsExactly(1L, 4L);
  }

  @Test
  void keepBestTieKeepsTheOlder() {
    CheckpointStore store =
        store(Retention.builder().keepLast(1).keepBest(1, "test_loss", Direction.MIN).build());
    save(store, 1, 1, 0.3);
    save(store, 2, 2, 0.3);
    save(store, 3, 3, 0.9);

    assertThat(steps(store)).containsExactly(1L, 3L);
  }

  @Test
  void keepEveryEpochsKeepsTheNewestCheckpointOfEachMultiple() {
    CheckpointStore store = store(Retention.builder().keepLast(1).keepEveryEpochs(3).build());
    long step = 0;
    for (int epoch = 0; epoch <= 7; epoch++) {
      save(store, epoch, ++step, 1.0); // mid-epoch
      save(store, epoch, ++step, 1.0); // end of epoch
    }

    // epoch 3 -> steps 7,8 keep 8; epoch 6 -> steps 13,14 keep 14; epoch 0 never; last = 16
    assertThat(steps(store)).containsExactly(8L, 14L, 16L);
  }

  @Test
  void allRulesCombine() {
    CheckpointStore store =
        store(
            Retention.builder()
                .keepLast(1)
                .keepBest(1, "test_loss", Direction.MIN)
                .keepEveryEpochs(2)
                .build());
    double[] losses = {0.5, 0.4, 0.1, 0.6, 0.7};
    for (int epoch = 1; epoch <= 5; epoch++) {
      save(store, epoch, epoch * 100, losses[epoch - 1]);
    }

    assertThat(steps(store)).containsExactly(200L, 300L, 400L, 500L);
  }

  @Test
  void checkpointJustSavedIsKeptEvenWhenOlderByStep() {
    CheckpointStore store = store(Retention.builder().keepLast(1).build());
    save(store, 5, 500, 1.0);

    save(store, 2, 200, 1.0); // resumed from an earlier point

    assertThat(steps(store)).containsExactly(200L, 500L);
  }

  @Test
  void checkpointsWithDamagedManifestAgeOutByName() throws IOException {
    CheckpointStore store =
        store(Retention.builder().keepLast(1).keepBest(1, "test_loss", Direction.MIN).build());
    save(store, 1, 1, 0.1);
    Files.delete(store.list().get(0).directory().resolve("manifest.json"));

    save(store, 2, 2, 0.5);

    assertThat(dir.resolve("ckpt-000000000001-e0001")).doesNotExist();
    assertThat(steps(store)).containsExactly(2L);
  }

  @Test
  void invalidSettingsNameTheField() {
    assertThatThrownBy(() -> Retention.builder().keepLast(0)).hasMessage("keepLast < 1: 0");
    assertThatThrownBy(() -> Retention.builder().keepBest(-1, "loss", Direction.MIN))
        .hasMessage("keepBest < 0: -1");
    assertThatThrownBy(() -> Retention.builder().keepBest(1, " ", Direction.MIN))
        .hasMessageContaining("keepBest metric is blank");
    assertThatThrownBy(() -> Retention.builder().keepEveryEpochs(-2))
        .hasMessage("keepEveryEpochs < 0: -2");
  }

  @Test
  void toBuilderRoundTrips() {
    Retention r =
        Retention.builder()
            .keepLast(4)
            .keepBest(2, "acc", Direction.MAX)
            .keepEveryEpochs(5)
            .build();

    assertThat(r.toBuilder().build()).isEqualTo(r).hasSameHashCodeAs(r);
    assertThat(r.toString())
        .isEqualTo("Retention{keepLast=4, keepBest=2 by MAX acc, keepEveryEpochs=5}");
  }
}
