package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint directory that stops accepting new entries between a resume and the next save (made
 * read-only, or immutable with {@code chattr +i} where the tests run as root, whom permissions do
 * not stop): the failed save stops the fit, names the checkpoint the run resumed from as intact,
 * and leaves it loadable. Needs no mount, unlike {@link TrainerFullDiskTest}.
 */
class TrainerUnwritableCheckpointTest {

  @TempDir Path dir;

  private Path locked;
  private boolean immutable;

  @AfterEach
  void unlock() throws Exception {
    if (immutable) {
      run("chattr", "-i", locked.toString());
    }
    if (locked != null) {
      Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwx------"));
    }
  }

  @Test
  void aCheckpointThatCannotBeWrittenFailsTheFitAndNamesTheCheckpointItResumedFromAsIntact()
      throws Exception {
    Path run = dir.resolve("run");
    TrainerResumeTest.train(TrainerResumeTest.config("adam", run).epochs(1).build());
    Path checkpoints = run.resolve("checkpoints");
    CheckpointStore store = CheckpointStore.builder(checkpoints).build();
    Checkpoint good = store.latestValid().orElseThrow();
    assumeTrue(lock(checkpoints), "cannot make a directory unwritable here");

    TrainingException e =
        catchThrowableOfType(
            () ->
                TrainerResumeTest.train(
                    TrainerResumeTest.config("adam", run)
                        .epochs(2)
                        .resume(Resume.latest())
                        .build()),
            TrainingException.class);

    assertThat(e)
        .hasMessageContaining("Checkpoint at epoch 2")
        .hasMessageContaining("Could not save checkpoint")
        .hasMessageContaining(checkpoints.toString())
        .hasMessageEndingWith(
            "(the checkpoint this run resumed from, " + good.directory() + ", is intact)");
    assertThat(store.latestValid()).contains(good);
  }

  /** Makes {@code directory} refuse new entries; false if nothing here can. */
  private boolean lock(Path directory) throws IOException, InterruptedException {
    locked = directory;
    Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("r-x------"));
    if (refusesNewEntries(directory)) {
      return true;
    }
    immutable = run("chattr", "+i", directory.toString()); // root: only an immutable directory
    return immutable && refusesNewEntries(directory);
  }

  private static boolean refusesNewEntries(Path directory) throws IOException {
    try {
      Files.delete(Files.createDirectory(directory.resolve("probe")));
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  private static boolean run(String... command) throws InterruptedException {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
      return process.waitFor() == 0;
    } catch (IOException e) {
      return false; // no such command
    }
  }
}
