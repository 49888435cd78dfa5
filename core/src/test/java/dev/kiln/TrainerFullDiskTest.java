package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Model;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointStore;
import dev.kiln.checkpoint.SmallDisk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run directory on a real, size-limited disk (a 32 MiB tmpfs, where the machine allows mounting)
 * that fills up: the failed checkpoint stops the fit with an error naming the cause and the fix,
 * the checkpoint the fit resumed from stays, and once space is freed the run resumes from it.
 */
class TrainerFullDiskTest {

  @TempDir Path temp;

  private SmallDisk disk;

  @BeforeEach
  void mountSmallDisk() throws Exception {
    SmallDisk.Mounted mounted = SmallDisk.mount(temp.resolve("disk"), 32L << 20);
    assumeTrue(mounted.disk() != null, mounted.whyNot());
    disk = mounted.disk();
  }

  @AfterEach
  void unmount() throws Exception {
    if (disk != null) {
      disk.close();
    }
  }

  /** About 4.9 MiB of checkpoint: 0.43M weights (8 x 32768 + 32768 x 4) and Adam's two moments. */
  private static SequentialBlock wideMlp() {
    return new SequentialBlock()
        .add(Linear.builder().setUnits(32768).build())
        .add(Activation.reluBlock())
        .add(Linear.builder().setUnits(4).build());
  }

  private static TrainerConfig.Builder config(Path run) {
    return TrainerResumeTest.config("adam", run);
  }

  private static FitResult train(TrainerConfig config) {
    try (Model model = Model.newInstance("wide")) {
      model.setBlock(wideMlp());
      return Trainer.fit(model, FakeDataset.of(32), FakeDataset.of(16), config);
    }
  }

  @Test
  void aCheckpointThatFillsTheDiskFailsTheFitAndTheRunResumesFromTheLastGoodOneOnceSpaceIsFreed()
      throws Exception {
    Path run = disk.root().resolve("run");
    train(config(run).epochs(1).build());
    CheckpointStore store = CheckpointStore.builder(run.resolve("checkpoints")).build();
    Checkpoint good = store.latestValid().orElseThrow();
    long checkpointBytes = bytesUnder(good.directory());
    // Room for the run's logs, not for a second checkpoint beside the first.
    Path filler = disk.root().resolve("filler");
    long free = Files.getFileStore(run).getUsableSpace();
    try (RandomAccessFile f = new RandomAccessFile(filler.toFile(), "rw")) {
      f.write(new byte[Math.toIntExact(free - checkpointBytes / 2)]);
    }

    TrainingException e =
        catchThrowableOfType(
            () -> train(config(run).epochs(2).resume(Resume.latest()).build()),
            TrainingException.class);

    assertThat(e)
        .hasMessageContaining("Checkpoint at epoch 2")
        .hasMessageContaining("No space left on device")
        .hasMessageContaining("free space or point the run directory elsewhere")
        .hasMessageEndingWith(
            "(the checkpoint this run resumed from, " + good.directory() + ", is intact)");
    assertThat(names(run.resolve("checkpoints"))).containsExactly(good.name());
    assertThat(store.latestValid()).contains(good);

    Files.delete(filler);
    FitResult resumed = train(config(run).epochs(2).resume(Resume.latest()).build());

    assertThat(resumed.epochs()).hasSize(1); // epoch 2 only: epoch 1 came from the checkpoint
    assertThat(resumed.lastCheckpoint()).isPresent();
    assertThat(store.latestValid().orElseThrow().epoch()).isEqualTo(2);
  }

  private static long bytesUnder(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      long total = 0;
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        total += Files.size(p);
      }
      return total;
    }
  }

  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
