package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static dev.kiln.checkpoint.TestCheckpoints.bytes;
import static dev.kiln.checkpoint.TestCheckpoints.bytesWriter;
import static dev.kiln.checkpoint.TestCheckpoints.entries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.kiln.checkpoint.internal.FileOps;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreFailureTest {

  private static final String DISK_FULL = "No space left on device";

  @TempDir Path dir;

  private final RecordingFileOps fileOps = new RecordingFileOps();

  private CheckpointStore store(Retention retention) {
    return CheckpointStore.builder(dir)
        .clock(CLOCK)
        .retention(retention)
        .fileOps(fileOps)
        .deleter(Runnable::run)
        .build();
  }

  /** Writes half of a 1 MiB file, then fails the way a full disk does. */
  private static CheckpointWriter diskFullHalfway() {
    return d -> {
      Path file = d.resolve("model.bin");
      try (OutputStream out = Files.newOutputStream(file)) {
        out.write(bytes(512 * 1024, 9));
        throw new FileSystemException(file.toString(), null, DISK_FULL);
      }
    };
  }

  @Test
  void diskFullInTheMiddleOfWritingThrowsNamingFileCauseAndFix() throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));

    CheckpointException e =
        catchThrowableOfType(
            () -> store.save(CheckpointRequest.of(0, 2), diskFullHalfway()),
            CheckpointException.class);

    assertThat(e)
        .hasMessageContaining("Could not save checkpoint ckpt-000000000002-e0000 in " + dir)
        .hasMessageContaining("No space left on device while writing ")
        .hasMessageContaining("model.bin")
        .hasMessageEndingWith("free space or point the run directory elsewhere");
    assertThat(e.getCause()).isInstanceOf(FileSystemException.class);
    assertThat(entries(dir)).containsExactly(committed.name());
    assertThat(store.latestValid()).contains(committed);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void diskFullWhileWritingManifestLeavesPreviousCheckpointAndNoTemp() throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    fileOps.clear();
    fileOps.failOn("write manifest.json", new IOException(DISK_FULL));

    assertThatThrownBy(() -> store.save(CheckpointRequest.of(0, 3), bytesWriter(2048, 3)))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("No space left on device while writing ")
        .hasMessageContaining("manifest.json (the save had written 3 KiB when the disk filled; ")
        .hasMessageEndingWith(" free now) — free space or point the run directory elsewhere");
    assertThat(store.latestValid()).contains(committed);
    assertThat(entries(dir)).containsExactly(committed.name());
  }

  @Test
  void aDiskTooFullToCreateTheSavesDirectorySaysNothingWasWrittenAndWhatIsFree()
      throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    fileOps.clear();
    fileOps.failAt(0, new IOException(DISK_FULL)); // the mkdir of the temporary directory

    assertThatThrownBy(() -> store.save(CheckpointRequest.of(0, 2), bytesWriter(2048, 2)))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("No space left on device while creating ")
        .hasMessageContaining(
            "(the save had written 0 KiB when the disk filled; the file system reports ")
        .hasMessageEndingWith(" free now) — free space or point the run directory elsewhere");
    assertThat(fileOps.calls()).first().asString().startsWith("mkdir .tmp-save-");
    assertThat(entries(dir)).containsExactly(committed.name());
  }

  @Test
  void anExceededQuotaSaysWhatTheSaveHadWrittenButNotTheFileSystemsFreeSpace() throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    fileOps.failOn("write manifest.json", new IOException("Disk quota exceeded"));

    assertThatThrownBy(() -> store.save(CheckpointRequest.of(0, 2), bytesWriter(2048, 2)))
        .isInstanceOf(CheckpointException.class)
        .hasMessageEndingWith(
            "manifest.json (the save had written 3 KiB when the quota ran out) — free space or"
                + " point the run directory elsewhere");
    assertThat(store.latestValid()).contains(committed);
  }

  @Test
  void aThreadFactoryRefusingTheSyncThreadFailsTheSaveWithoutBlamingTheWriter() throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    IllegalStateException refused = new IllegalStateException("thread limit reached");
    CheckpointStore refusing =
        store.toBuilder()
            .threadFactory(
                runnable -> {
                  throw refused;
                })
            .build();
    boolean[] writerRan = new boolean[1];

    CheckpointException e =
        catchThrowableOfType(
            () ->
                refusing.save(
                    CheckpointRequest.of(0, 2),
                    d -> {
                      writerRan[0] = true;
                      Files.write(d.resolve("model.bin"), bytes(2048, 2));
                    }),
            CheckpointException.class);

    assertThat(e)
        .hasCause(refused)
        .hasMessageContaining("Could not save checkpoint ckpt-000000000002-e0000 in " + dir)
        .hasMessageContaining("thread limit reached")
        .hasMessageNotContaining("writer");
    assertThat(writerRan[0]).isFalse();
    assertThat(entries(dir)).containsExactly(committed.name());
    assertThat(store.latestValid()).contains(committed);
  }

  @Test
  void aRuntimeExceptionWhileWritingTheManifestNamesItAndDoesNotBlameTheWriter()
      throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    IllegalStateException bug = new IllegalStateException("the manifest could not be encoded");
    FileOps system = FileOps.system();
    FileOps failingManifest =
        new FileOps() {
          @Override
          public void createDirectory(Path d) throws IOException {
            system.createDirectory(d);
          }

          @Override
          public OutputStream newOutputStream(Path f) throws IOException {
            return system.newOutputStream(f);
          }

          @Override
          public void writeDurably(Path f, byte[] b) throws IOException {
            if (f.getFileName().toString().equals("manifest.json")) {
              throw bug;
            }
            system.writeDurably(f, b);
          }

          @Override
          public void fsyncFile(Path f) throws IOException {
            system.fsyncFile(f);
          }

          @Override
          public void fsyncDirectory(Path d) throws IOException {
            system.fsyncDirectory(d);
          }

          @Override
          public void atomicMove(Path from, Path to) throws IOException {
            system.atomicMove(from, to);
          }

          @Override
          public void deleteRecursively(Path p) throws IOException {
            system.deleteRecursively(p);
          }
        };
    CheckpointStore failing = store.toBuilder().fileOps(failingManifest).build();

    CheckpointException e =
        catchThrowableOfType(
            () -> failing.save(CheckpointRequest.of(0, 2), bytesWriter(2048, 2)),
            CheckpointException.class);

    assertThat(e)
        .hasCause(bug)
        .hasMessageContaining("the manifest could not be encoded while writing ")
        .hasMessageContaining("manifest.json")
        .hasMessageNotContaining("checkpoint writer");
    assertThat(entries(dir)).containsExactly(committed.name());
    assertThat(store.latestValid()).contains(committed);
  }

  /** The operations of one successful save with two files into a store holding one checkpoint. */
  private List<String> successfulSaveCalls() throws IOException {
    return successfulSaveCalls(Retention.defaults());
  }

  private List<String> successfulSaveCalls(Retention retention) throws IOException {
    Path scratch = Files.createTempDirectory(dir.getParent(), "scratch");
    RecordingFileOps recording = new RecordingFileOps();
    CheckpointStore scratchStore =
        CheckpointStore.builder(scratch)
            .retention(retention)
            .fileOps(recording)
            .deleter(Runnable::run)
            .build();
    scratchStore.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    recording.clear();
    scratchStore.save(CheckpointRequest.of(0, 2), bytesWriter(2048, 2));
    return recording.calls();
  }

  private static int indexOf(List<String> calls, String prefix) {
    for (int i = 0; i < calls.size(); i++) {
      if (calls.get(i).startsWith(prefix)) {
        return i;
      }
    }
    throw new AssertionError(prefix + " not in " + calls);
  }

  @Test
  void anErrorWhileSyncingDataFilesFailsTheSaveInsteadOfCommittingUnsyncedFiles()
      throws IOException {
    CheckpointStore store = store(Retention.defaults());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
    FileOps system = FileOps.system();
    FileOps failingSync =
        new FileOps() {
          @Override
          public void createDirectory(Path d) throws IOException {
            system.createDirectory(d);
          }

          @Override
          public java.io.OutputStream newOutputStream(Path f) throws IOException {
            return system.newOutputStream(f);
          }

          @Override
          public void writeDurably(Path f, byte[] b) throws IOException {
            system.writeDurably(f, b);
          }

          @Override
          public void fsyncFile(Path f) {
            throw new OutOfMemoryError("simulated");
          }

          @Override
          public void fsyncDirectory(Path d) throws IOException {
            system.fsyncDirectory(d);
          }

          @Override
          public void atomicMove(Path from, Path to) throws IOException {
            system.atomicMove(from, to);
          }

          @Override
          public void deleteRecursively(Path p) throws IOException {
            system.deleteRecursively(p);
          }
        };
    CheckpointStore failing = store.toBuilder().fileOps(failingSync).build();

    assertThatThrownBy(() -> failing.save(CheckpointRequest.of(0, 2), bytesWriter(2048, 2)))
        .isInstanceOf(OutOfMemoryError.class);
    assertThat(entries(dir)).containsExactly(committed.name());
    assertThat(store.latestValid()).contains(committed);
  }

  @Test
  void saveSyncsEveryFileManifestAndDirectoryBeforeTheRenameThenSyncsParent() throws IOException {
    List<String> calls = successfulSaveCalls();

    // The data files sync on a helper thread while the manifest is written, so only the order
    // that matters for crash safety is fixed: everything durable before the rename commits.
    assertThat(calls).hasSize(7);
    assertThat(calls.get(0)).startsWith("mkdir .tmp-save-ckpt-000000000002-e0000-");
    assertThat(calls.subList(1, 5))
        .contains("fsync model.bin", "fsync state.json", "write manifest.json")
        .anyMatch(c -> c.startsWith("fsyncdir .tmp-save-ckpt-000000000002-e0000-"));
    assertThat(calls.subList(1, 5).indexOf("fsync model.bin"))
        .isLessThan(calls.subList(1, 5).indexOf("fsync state.json"));
    assertThat(calls.get(5))
        .matches("move \\.tmp-save-ckpt-000000000002-e0000-[\\w-]+ -> ckpt-000000000002-e0000");
    assertThat(calls.get(6)).startsWith("fsyncdir scratch");
  }

  @Test
  void pruningRenamesTheOldCheckpointAwayOnlyAfterTheNewOneIsCommitted() throws IOException {
    List<String> calls = successfulSaveCalls(Retention.builder().keepLast(1).build());

    assertThat(calls).hasSize(9);
    assertThat(calls.get(5)).endsWith("-> ckpt-000000000002-e0000");
    assertThat(calls.get(6)).startsWith("fsyncdir scratch");
    assertThat(calls.get(7))
        .matches("move ckpt-000000000001-e0000 -> \\.tmp-prune-ckpt-000000000001-e0000-[\\w-]+");
    assertThat(calls.get(8)).startsWith("delete .tmp-prune-ckpt-000000000001-e0000-");
  }

  @Test
  void failureAtAnyStepOfASaveKeepsEveryCommittedCheckpointLoadable() throws IOException {
    int steps = successfulSaveCalls(Retention.builder().keepLast(1).build()).size();
    for (int failAt = 0; failAt < steps; failAt++) {
      Path runDir = Files.createTempDirectory(dir, "run");
      RecordingFileOps ops = new RecordingFileOps();
      CheckpointStore store =
          CheckpointStore.builder(runDir)
              .fileOps(ops)
              .deleter(Runnable::run)
              .retention(Retention.builder().keepLast(1).build())
              .build();
      Checkpoint first = store.save(CheckpointRequest.of(0, 1), bytesWriter(2048, 1));
      ops.clear();
      ops.failAt(failAt, new IOException(DISK_FULL));

      Checkpoint second = null;
      try {
        second = store.save(CheckpointRequest.of(0, 2), bytesWriter(2048, 2));
      } catch (CheckpointException e) {
        assertThat(e)
            .as("step %d: %s", failAt, ops.calls().get(failAt))
            .hasMessageContaining(DISK_FULL);
      }

      CheckpointStore reopened = CheckpointStore.builder(runDir).build();
      Checkpoint latest = reopened.latestValid().orElseThrow();
      assertThat(reopened.problems()).as("step %d", failAt).isEmpty();
      assertThat(entries(runDir)).as("step %d", failAt).noneMatch(n -> n.startsWith(".tmp-"));
      if (second != null) {
        assertThat(latest).as("step %d", failAt).isEqualTo(second);
      } else {
        assertThat(latest.step()).as("step %d", failAt).isIn(first.step(), 2L);
      }
    }
  }

  @Test
  void failedSaveNeverPrunes() throws IOException {
    CheckpointStore store = store(Retention.builder().keepLast(1).build());
    Checkpoint committed = store.save(CheckpointRequest.of(0, 1), bytesWriter(100, 1));
    fileOps.clear();

    assertThatThrownBy(() -> store.save(CheckpointRequest.of(0, 2), diskFullHalfway()));

    assertThat(fileOps.calls()).noneMatch(c -> c.contains(committed.name()));
    assertThat(store.latestValid()).contains(committed);
  }

  @Test
  void pruneFailureIsLoggedNotFatalAndRetriedAfterTheNextSave() throws IOException {
    CheckpointStore store = store(Retention.builder().keepLast(1).build());
    Checkpoint first = store.save(CheckpointRequest.of(0, 1), bytesWriter(100, 1));
    List<String> calls = successfulSaveCalls();
    fileOps.clear();
    fileOps.failAt(
        indexOf(calls, "fsyncdir scratch") + 1, new IOException("Device or resource busy"));

    Checkpoint second = store.save(CheckpointRequest.of(0, 2), bytesWriter(100, 2));

    assertThat(entries(dir)).containsExactly(first.name(), second.name());
    Checkpoint third = store.save(CheckpointRequest.of(0, 3), bytesWriter(100, 3));
    assertThat(entries(dir)).containsExactly(third.name());
  }

  @Test
  void failureAfterRenameThrowsButTheCheckpointIsCommitted() throws IOException {
    CheckpointStore store = store(Retention.defaults());
    store.save(CheckpointRequest.of(0, 1), bytesWriter(100, 1));
    fileOps.clear();
    fileOps.failAt(
        indexOf(successfulSaveCalls(), "fsyncdir scratch"), new IOException("Input/output error"));

    assertThatThrownBy(() -> store.save(CheckpointRequest.of(0, 2), bytesWriter(100, 2)))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("was renamed into place")
        .hasMessageContaining("Input/output error");
    assertThat(store.latestValid().orElseThrow().step()).isEqualTo(2);
  }
}
