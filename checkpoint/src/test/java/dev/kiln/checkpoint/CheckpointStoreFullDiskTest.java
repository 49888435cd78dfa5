package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static dev.kiln.checkpoint.TestCheckpoints.entries;
import static dev.kiln.checkpoint.TestCheckpoints.randomBytes;
import static dev.kiln.checkpoint.TestCheckpoints.randomWriter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saves that run out of space on a real, size-limited file system (a 4 MiB tmpfs): the store must
 * throw, name the cause and the fix, leave no temporary directory, and keep the committed
 * checkpoint loadable. {@link CheckpointStoreFailureTest} injects the same failure at every file
 * operation, and runs where mounting is not allowed.
 */
class CheckpointStoreFullDiskTest {

  private static final long DISK_BYTES = 4L << 20;

  /** How a disk-full error ends: what the save had written, what is free, and the fix. */
  private static final String SPACE_NOTE_AND_FIX =
      "(?s).* \\(the save had written [0-9.]+ MiB when the disk filled; the file system reports"
          + " [0-9.]+ [KM]iB free now\\) — free space or point the run directory elsewhere";

  @TempDir Path temp;

  private SmallDisk disk;
  private Path dir;

  @BeforeEach
  void mountSmallDisk() throws Exception {
    SmallDisk.Mounted mounted = SmallDisk.mount(temp.resolve("disk"), DISK_BYTES);
    assumeTrue(mounted.disk() != null, mounted.whyNot());
    disk = mounted.disk();
    dir = disk.root().resolve("checkpoints");
  }

  @AfterEach
  void unmount() throws Exception {
    if (disk != null) {
      disk.close();
    }
  }

  private CheckpointStore store() {
    return CheckpointStore.builder(dir)
        .clock(CLOCK)
        .retention(Retention.builder().keepLast(1).build())
        .deleter(Runnable::run)
        .build();
  }

  @Test
  void aSaveThatFillsTheDiskThrowsNamingTheCauseAndTheFixAndKeepsTheCommittedCheckpoint()
      throws Exception {
    CheckpointStore store = store();
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), randomWriter(1 << 20, 1));

    CheckpointException e =
        catchThrowableOfType(
            () -> store.save(CheckpointRequest.of(0, 2), randomWriter(6 << 20, 2)),
            CheckpointException.class);

    // The JDK's exception names no file: the message names the save's temporary directory, and
    // says how much the save had written and how much is free once it is deleted again.
    assertThat(e)
        .hasMessageContaining("Could not save checkpoint ckpt-000000000002-e0000 in " + dir)
        .hasMessageContaining(
            "No space left on device while writing "
                + dir.resolve(".tmp-save-ckpt-000000000002-e0000-"))
        .hasMessageMatching(SPACE_NOTE_AND_FIX);
    assertThat(entries(dir)).containsExactly(committed.name());
    assertThat(store.latestValid()).contains(committed);
    assertThat(store.problems()).isEmpty();
    assertThat(Files.readAllBytes(committed.file("model.bin"))).isEqualTo(randomBytes(1 << 20, 1));
  }

  @Test
  void aFullDiskIsRecognisedEvenWhenTheSystemSaysSoInAnotherLanguage() throws Exception {
    CheckpointStore store = store();
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), randomWriter(1 << 20, 1));

    // As the JDK reports ENOSPC on a system set to German: strerror's text, not English.
    CheckpointException e =
        catchThrowableOfType(
            () ->
                store.save(
                    CheckpointRequest.of(0, 2),
                    d -> {
                      try {
                        Files.write(d.resolve("model.bin"), randomBytes(6 << 20, 2));
                      } catch (IOException full) {
                        throw new IOException(
                            "Auf dem Gerät ist kein Speicherplatz mehr verfügbar");
                      }
                    }),
            CheckpointException.class);

    assertThat(e)
        .hasMessageContaining("Auf dem Gerät ist kein Speicherplatz mehr verfügbar while writing ")
        .hasMessageMatching(SPACE_NOTE_AND_FIX);
    assertThat(entries(dir)).containsExactly(committed.name());
  }

  @Test
  void aFailedSaveGivesBackItsSpaceSoTheNextSaveThatFitsCommits() throws Exception {
    CheckpointStore store = store();
    store.save(CheckpointRequest.of(0, 1), randomWriter(1 << 20, 1));
    catchThrowableOfType(
        () -> store.save(CheckpointRequest.of(0, 2), randomWriter(6 << 20, 2)),
        CheckpointException.class);

    Checkpoint next = store.save(CheckpointRequest.of(0, 3), randomWriter(1 << 20, 3));

    assertThat(entries(dir)).containsExactly(next.name()); // the first one pruned
    assertThat(store.latestValid()).contains(next);
    assertThat(Files.readAllBytes(next.file("model.bin"))).isEqualTo(randomBytes(1 << 20, 3));
  }

  @Test
  void aTensorFileThatFillsTheDiskWhileHashedFailsTheSaveAndKeepsTheCommittedOne()
      throws Exception {
    CheckpointStore store = store();
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray small = manager.randomUniform(0, 1, new Shape(256, 1024)); // 1 MiB
      NDArray large = manager.randomUniform(0, 1, new Shape(1536, 1024)); // 6 MiB
      Checkpoint committed =
          store.save(
              CheckpointRequest.of(0, 1),
              d -> TensorFile.write(d.resolve("model.ndlist"), Map.of("w", small)));

      CheckpointException e =
          catchThrowableOfType(
              () ->
                  store.save(
                      CheckpointRequest.of(0, 2),
                      d -> TensorFile.write(d.resolve("model.ndlist"), Map.of("w", large))),
              CheckpointException.class);

      assertThat(e)
          .hasMessageContaining("No space left on device")
          .hasMessageMatching(SPACE_NOTE_AND_FIX);
      assertThat(entries(dir)).containsExactly(committed.name());
      try (NDManager loaded = manager.newSubManager()) {
        Map<String, NDArray> read =
            store.latestValid(c -> TensorFile.read(c.file("model.ndlist"), loaded)).orElseThrow();
        assertThat(read.get("w").contentEquals(small)).isTrue();
      }
    }
  }
}
