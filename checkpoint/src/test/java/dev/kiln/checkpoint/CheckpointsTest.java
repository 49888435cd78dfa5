package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.TestCheckpoints.flipByte;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {

  @TempDir Path dir;

  private NDManager manager;

  @BeforeEach
  void setUp() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void tearDown() {
    manager.close();
  }

  @Test
  void saveThenLoadLatestRoundTripsTensorsAndMetadata() {
    NDArray weight = manager.randomNormal(new ai.djl.ndarray.types.Shape(4, 3));
    Checkpoints.save(
        dir, Map.of("fc.weight", weight), Map.of("epoch", 3, "best", 0.91, "tags", List.of("a")));

    LoadedCheckpoint loaded = Checkpoints.loadLatest(dir, manager).orElseThrow();

    assertThat(loaded.tensors()).containsOnlyKeys("fc.weight");
    assertThat(loaded.tensors().get("fc.weight").toFloatArray())
        .containsExactly(weight.toFloatArray());
    assertThat(loaded.metadata()).isEqualTo(Map.of("epoch", 3, "best", 0.91, "tags", List.of("a")));
    assertThat(loaded.checkpoint().step()).isEqualTo(1);
  }

  @Test
  void successiveSavesNumberStepsAndLoadTheNewest() {
    for (int i = 1; i <= 5; i++) {
      Checkpoints.save(dir, Map.of("x", manager.create(new float[] {i})), Map.of("i", i));
    }

    LoadedCheckpoint loaded = Checkpoints.loadLatest(dir, manager).orElseThrow();

    assertThat(loaded.checkpoint().step()).isEqualTo(5);
    assertThat(loaded.tensors().get("x").toFloatArray()).containsExactly(5f);
    assertThat(CheckpointStore.builder(dir).build().list()).hasSize(3); // default retention
  }

  @Test
  void loadLatestFallsBackPastADamagedCheckpoint() throws IOException {
    Checkpoints.save(dir, 1, 100, Map.of("x", manager.create(new float[] {1f})), Map.of());
    Checkpoint newer =
        Checkpoints.save(dir, 2, 200, Map.of("x", manager.create(new float[] {2f})), Map.of());
    flipByte(
        newer.file(Checkpoints.TENSORS_FILE), Files.size(newer.file(Checkpoints.TENSORS_FILE)) - 1);

    LoadedCheckpoint loaded = Checkpoints.loadLatest(dir, manager).orElseThrow();

    assertThat(loaded.checkpoint().step()).isEqualTo(100);
    assertThat(loaded.tensors().get("x").toFloatArray()).containsExactly(1f);
  }

  @Test
  void loadLatestOfMissingDirectoryIsEmptyAndCreatesNothing() {
    Path missing = dir.resolve("nothing-here");

    assertThat(Checkpoints.loadLatest(missing, manager)).isEmpty();
    assertThat(missing).doesNotExist();
  }

  @Test
  void loadLatestOfCheckpointWithoutTensorsExplains() {
    CheckpointStore.builder(dir)
        .build()
        .save(CheckpointRequest.of(0, 1), d -> Files.writeString(d.resolve("other.txt"), "x"));

    assertThatThrownBy(() -> Checkpoints.loadLatest(dir, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("has no tensors.ndlist")
        .hasMessageContaining("read it with CheckpointStore");
  }

  @Test
  void loadLatestClosesTheTensorsItReadFromADamagedCheckpoint() throws IOException {
    Checkpoints.save(dir, 1, 100, Map.of("x", manager.ones(new Shape(400_000))), Map.of());
    Checkpoint newer =
        Checkpoints.save(dir, 2, 200, Map.of("x", manager.zeros(new Shape(400_000))), Map.of());
    Path tensors = newer.file(Checkpoints.TENSORS_FILE);
    assertThat(newer.files().get(Checkpoints.TENSORS_FILE).partCrc32c()).hasSize(2);
    flipByte(tensors, Files.size(tensors) - 10); // tensor data in the second part
    NDManager loads = manager.newSubManager();

    LoadedCheckpoint loaded = Checkpoints.loadLatest(dir, loads).orElseThrow();

    assertThat(loaded.checkpoint().step()).isEqualTo(100);
    assertThat(loads.getManagedArrays()).containsExactly(loaded.tensors().get("x"));
    assertThat(loaded.tensors().get("x").isReleased()).isFalse();
    assertThat(loaded.tensors().get("x").toFloatArray()).containsOnly(1f);
  }

  @Test
  void closingALoadedCheckpointReleasesItsTensors() {
    Checkpoints.save(
        dir,
        Map.of("a", manager.ones(new Shape(3)), "b", manager.create(new long[] {1L, 2L})),
        Map.of());
    LoadedCheckpoint loaded = Checkpoints.loadLatest(dir, manager).orElseThrow();

    loaded.close();

    assertThat(loaded.tensors().values()).hasSize(2).allMatch(NDArray::isReleased);
  }
}
