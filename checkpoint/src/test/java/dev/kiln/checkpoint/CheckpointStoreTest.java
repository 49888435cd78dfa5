package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.IndependentChecksums.crc32c;
import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static dev.kiln.checkpoint.TestCheckpoints.bytes;
import static dev.kiln.checkpoint.TestCheckpoints.bytesWriter;
import static dev.kiln.checkpoint.TestCheckpoints.entries;
import static dev.kiln.checkpoint.TestCheckpoints.flipByte;
import static dev.kiln.checkpoint.TestCheckpoints.randomBytes;
import static dev.kiln.checkpoint.TestCheckpoints.randomWriter;
import static dev.kiln.checkpoint.TestCheckpoints.steps;
import static dev.kiln.checkpoint.TestCheckpoints.truncate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.checkpoint.CheckpointProblem.Kind;
import dev.kiln.checkpoint.internal.FileOps;
import dev.kiln.checkpoint.internal.Manifest;
import dev.kiln.checkpoint.internal.Sha256;
import dev.kiln.checkpoint.internal.Threads;
import dev.kiln.checkpoint.internal.TrailingHashes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

  @TempDir Path dir;

  private CheckpointStore store() {
    return CheckpointStore.builder(dir)
        .clock(CLOCK)
        .versions(Map.of("kiln", "0.1.0", "engine", "PyTorch 2.7.1"))
        .retention(Retention.builder().keepLast(10).build())
        .build();
  }

  @Test
  void prunedCheckpointIsRenamedAwayDuringSaveAndDeletedOnTheDeleterAfterwards()
      throws IOException {
    List<Runnable> deletions = new ArrayList<>();
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .clock(CLOCK)
            .retention(Retention.builder().keepLast(1).build())
            .deleter(deletions::add)
            .build();
    store.save(CheckpointRequest.of(0, 1), bytesWriter(1000, 1));

    store.save(CheckpointRequest.of(0, 2), bytesWriter(1000, 2));

    assertThat(steps(store)).containsExactly(2L);
    assertThat(entries(dir))
        .hasSize(2)
        .contains("ckpt-000000000002-e0000")
        .anyMatch(n -> n.startsWith(".tmp-prune-ckpt-000000000001-e0000-"));
    assertThat(deletions).hasSize(1);
    deletions.get(0).run();
    assertThat(entries(dir)).containsExactly("ckpt-000000000002-e0000");
  }

  @Test
  @Timeout(60)
  void aPrunedCheckpointTheDeleterIsDeletingIsLeftToItByTheNextSavesCleanup() throws Exception {
    CountDownLatch deleting = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<Path> cleanedByOthers = Collections.synchronizedList(new ArrayList<>());
    List<Thread> deleterThreads = Collections.synchronizedList(new ArrayList<>());
    FileOps blockingFirstPrune =
        new RecordingFileOps() {
          @Override
          public void deleteRecursively(Path path) throws IOException {
            if (path.getFileName().toString().startsWith(".tmp-prune-ckpt-000000000001")) {
              if (Thread.currentThread().getName().equals("deleter-0")) {
                deleting.countDown();
                awaitQuietly(release);
              } else {
                cleanedByOthers.add(path);
              }
            }
            super.deleteRecursively(path);
          }
        };
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .clock(CLOCK)
            .retention(Retention.builder().keepLast(1).build())
            .fileOps(blockingFirstPrune)
            .deleter(
                task -> {
                  Thread thread = new Thread(task, "deleter-" + deleterThreads.size());
                  deleterThreads.add(thread);
                  thread.start();
                })
            .build();
    store.save(CheckpointRequest.of(0, 1), bytesWriter(1000, 1));
    store.save(CheckpointRequest.of(0, 2), bytesWriter(1000, 2));
    deleting.await();

    store.save(CheckpointRequest.of(0, 3), bytesWriter(1000, 3));

    assertThat(cleanedByOthers).as("no second thread deletes it meanwhile").isEmpty();
    assertThat(entries(dir)).anyMatch(n -> n.startsWith(".tmp-prune-ckpt-000000000001-e0000-"));
    release.countDown();
    for (Thread thread : List.copyOf(deleterThreads)) {
      thread.join();
    }
    assertThat(entries(dir)).containsExactly("ckpt-000000000003-e0000");
  }

  @Test
  void aPrunedCheckpointWhoseDeletionNeverRunsIsDeletedByTheNextSave() throws IOException {
    List<Runnable> neverRun = new ArrayList<>();
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .clock(CLOCK)
            .retention(Retention.builder().keepLast(1).build())
            .deleter(neverRun::add)
            .build();
    store.save(CheckpointRequest.of(0, 1), bytesWriter(1000, 1));
    store.save(CheckpointRequest.of(0, 2), bytesWriter(1000, 2));
    assertThat(entries(dir)).anyMatch(n -> n.startsWith(".tmp-prune-ckpt-000000000001-e0000-"));

    store.save(CheckpointRequest.of(0, 3), bytesWriter(1000, 3));

    assertThat(entries(dir))
        .noneMatch(n -> n.startsWith(".tmp-prune-ckpt-000000000001-e0000-"))
        .contains("ckpt-000000000003-e0000");
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void aDeleterThatRefusesWorkMakesTheSaveDeleteThePrunedCheckpointItself() throws IOException {
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .clock(CLOCK)
            .retention(Retention.builder().keepLast(1).build())
            .deleter(
                task -> {
                  throw new java.util.concurrent.RejectedExecutionException("no threads left");
                })
            .build();
    store.save(CheckpointRequest.of(0, 1), bytesWriter(1000, 1));

    store.save(CheckpointRequest.of(0, 2), bytesWriter(1000, 2));

    assertThat(entries(dir)).containsExactly("ckpt-000000000002-e0000");
  }

  @Test
  void savedCheckpointLoadsWithFilesMetricsMetadataAndVersions() throws IOException {
    CheckpointStore store = store();
    CheckpointRequest request =
        CheckpointRequest.builder(3, 12345)
            .metric("test_loss", 0.25)
            .metadata("optimizer", Map.of("lr", 0.01, "name", "adam"))
            .metadata("history", List.of(1, 2, 3))
            .build();

    Checkpoint saved = store.save(request, bytesWriter(1000, 7));
    Checkpoint loaded = store.latestValid().orElseThrow();

    assertThat(saved.name()).isEqualTo("ckpt-000000012345-e0003");
    assertThat(loaded.directory())
        .isEqualTo(dir.toAbsolutePath().resolve("ckpt-000000012345-e0003"));
    assertThat(loaded.epoch()).isEqualTo(3);
    assertThat(loaded.step()).isEqualTo(12345);
    assertThat(loaded.createdAt()).isEqualTo(CLOCK.instant());
    assertThat(loaded.metrics()).containsExactly(Map.entry("test_loss", 0.25));
    assertThat(loaded.metadata())
        .isEqualTo(
            Map.of("optimizer", Map.of("lr", 0.01, "name", "adam"), "history", List.of(1, 2, 3)));
    assertThat(loaded.versions())
        .containsEntry("kiln", "0.1.0")
        .containsEntry("engine", "PyTorch 2.7.1")
        .containsEntry("djl", "0.36.0")
        .containsKey("java");
    assertThat(loaded.files()).containsOnlyKeys("model.bin", "state.json");
    assertThat(loaded.files().get("model.bin").size()).isEqualTo(1000);
    assertThat(loaded.files().get("model.bin").sha256()).isEqualTo(Sha256.of(bytes(1000, 7)));
    assertThat(Files.readAllBytes(loaded.file("model.bin"))).isEqualTo(bytes(1000, 7));
    assertThat(loaded).isEqualTo(saved);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void writerSubdirectoriesAreChecksummedWithSlashNames() throws IOException {
    CheckpointStore store = store();
    store.save(
        CheckpointRequest.of(0, 1),
        d -> {
          Files.createDirectories(d.resolve("optim/adam"));
          Files.writeString(d.resolve("optim/adam/m.bin"), "moments");
        });

    Checkpoint c = store.latestValid().orElseThrow();

    assertThat(c.files()).containsOnlyKeys("optim/adam/m.bin");
    assertThat(Files.readString(c.file("optim/adam/m.bin"))).isEqualTo("moments");
  }

  @Test
  void fileOfUnknownNameNamesTheFilesThatExist() {
    Checkpoint c = store().save(CheckpointRequest.of(0, 1), bytesWriter(10, 1));

    assertThatThrownBy(() -> c.file("optimizer.bin"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no file 'optimizer.bin'")
        .hasMessageContaining("model.bin");
  }

  @Test
  void nonFiniteMetricsRoundTrip() {
    CheckpointStore store = store();
    store.save(
        CheckpointRequest.builder(0, 1)
            .metric("loss", Double.NaN)
            .metric("ratio", Double.POSITIVE_INFINITY)
            .build(),
        bytesWriter(10, 1));

    assertThat(store.latestValid().orElseThrow().metrics())
        .containsEntry("loss", Double.NaN)
        .containsEntry("ratio", Double.POSITIVE_INFINITY);
  }

  @Test
  void listReturnsCommittedCheckpointsOldestFirstByStep() {
    CheckpointStore store = store();
    store.save(CheckpointRequest.of(0, 200), bytesWriter(10, 1));
    store.save(CheckpointRequest.of(0, 5), bytesWriter(10, 2));
    store.save(CheckpointRequest.of(1, 1000000), bytesWriter(10, 3));

    assertThat(steps(store)).containsExactly(5L, 200L, 1000000L);
  }

  @Test
  void savingTheSameStepTwiceKeepsBothAndTheSecondIsNewer() throws IOException {
    CheckpointStore store = store();
    store.save(CheckpointRequest.of(2, 100), bytesWriter(10, 1));
    Checkpoint second = store.save(CheckpointRequest.of(2, 100), bytesWriter(10, 2));

    assertThat(second.name()).isEqualTo("ckpt-000000000100-e0002.1");
    assertThat(store.latestValid().orElseThrow().name()).isEqualTo(second.name());
    assertThat(entries(dir))
        .containsExactly("ckpt-000000000100-e0002", "ckpt-000000000100-e0002.1");
  }

  @Test
  void emptyDirectoryHasNoLatestAndNoProblems() {
    CheckpointStore store = store();

    assertThat(store.latestValid()).isEmpty();
    assertThat(store.problems()).isEmpty();
    assertThat(store.list()).isEmpty();
  }

  @Test
  void unrelatedEntriesInTheDirectoryAreIgnoredAndKept() throws IOException {
    Files.writeString(dir.resolve("notes.txt"), "mine");
    Files.createDirectories(dir.resolve("ckpt-nope"));
    CheckpointStore store = store();
    store.save(CheckpointRequest.of(0, 1), bytesWriter(10, 1));

    assertThat(store.list()).hasSize(1);
    assertThat(entries(dir)).contains("notes.txt", "ckpt-nope");
  }

  // ------------------------------------------------------------------------------------------------ damage

  private Checkpoint[] saveTwo(CheckpointStore store) {
    Checkpoint older = store.save(CheckpointRequest.of(1, 10), bytesWriter(4096, 1));
    Checkpoint newer = store.save(CheckpointRequest.of(2, 20), bytesWriter(4096, 2));
    return new Checkpoint[] {older, newer};
  }

  @Test
  void flippedByteInNewestFallsBackToPrevious() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 2000);

    Optional<Checkpoint> latest = store.latestValid();

    assertThat(latest).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.CHECKSUM_MISMATCH);
              assertThat(p.file()).isEqualTo("model.bin");
              assertThat(p.checkpoint()).isEqualTo(saved[1].directory());
              assertThat(p.message())
                  .startsWith(
                      "ckpt-000000000020-e0002/model.bin: CRC32C of bytes 0-4095 (part 1) is ");
            });
  }

  @Test
  void truncatedFileInNewestFallsBackToPrevious() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    truncate(saved[1].file("model.bin"), 100);

    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.SIZE_MISMATCH);
              assertThat(p.file()).isEqualTo("model.bin");
              assertThat(p.detail())
                  .isEqualTo("file is 100 bytes but the manifest says 4096 (truncated)");
            });
  }

  @Test
  void missingManifestInNewestFallsBackToPrevious() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    Files.delete(saved[1].directory().resolve("manifest.json"));

    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.MISSING_MANIFEST);
              assertThat(p.file()).isEqualTo("manifest.json");
            });
  }

  @Test
  void garbledManifestInNewestFallsBackToPrevious() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    Path manifest = saved[1].directory().resolve("manifest.json");
    truncate(manifest, Files.size(manifest) / 2);

    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.UNREADABLE_MANIFEST);
              assertThat(p.detail()).startsWith("manifest is invalid: not valid JSON");
            });
  }

  @Test
  void manifestFromNewerFormatIsReportedAsUnsupported() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    Path manifest = saved[1].directory().resolve("manifest.json");
    int newer = Manifest.FORMAT_VERSION + 1;
    Files.writeString(
        manifest,
        Files.readString(manifest)
            .replace(
                "\"formatVersion\" : " + Manifest.FORMAT_VERSION, "\"formatVersion\" : " + newer));

    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.UNSUPPORTED_FORMAT);
              assertThat(p.detail())
                  .contains("format version " + newer + " is not supported")
                  .contains("newer Kiln");
            });
  }

  @Test
  void missingFileInNewestFallsBackToPrevious() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    Files.delete(saved[1].file("state.json"));

    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.MISSING_FILE);
              assertThat(p.file()).isEqualTo("state.json");
            });
  }

  @Test
  void temporaryFolderLeftByCrashIsIgnoredAndCleanedOnOpen() throws IOException {
    Checkpoint[] saved = saveTwo(store());
    Path leftover = dir.resolve(".tmp-save-ckpt-000000000030-e0003-0badf00d");
    Files.createDirectories(leftover);
    Files.write(leftover.resolve("model.bin"), bytes(100, 3));

    CheckpointStore reopened = store();

    assertThat(leftover).doesNotExist();
    assertThat(reopened.latestValid()).contains(saved[1]);
    assertThat(reopened.problems()).isEmpty();
    assertThat(entries(dir)).containsExactly(saved[0].name(), saved[1].name());
  }

  @Test
  void openingTheStoreWhileAnotherLiveProcessSavesLeavesItsTemporaryFolderAlone()
      throws IOException {
    // A save in flight in a live process (here: this one, as a notebook cell inspecting the store
    // would be).
    Path inFlight =
        dir.resolve(
            ".tmp-save-ckpt-000000000030-e0003-p" + ProcessHandle.current().pid() + "-0badf00d");
    Files.createDirectories(inFlight);
    // One left by a process that is gone.
    Path dead =
        dir.resolve(".tmp-save-ckpt-000000000031-e0003-p" + Integer.MAX_VALUE + "-0badf00d");
    Files.createDirectories(dead);

    store();

    assertThat(inFlight).exists();
    assertThat(dead).doesNotExist();
  }

  @Test
  void temporaryFolderAppearingAfterOpenIsCleanedOnNextSave() throws IOException {
    CheckpointStore store = store();
    Path leftover = dir.resolve(".tmp-prune-ckpt-000000000001-e0000-12345678");
    Files.createDirectories(leftover);

    store.save(CheckpointRequest.of(0, 2), bytesWriter(10, 1));

    assertThat(entries(dir)).containsExactly("ckpt-000000000002-e0000");
  }

  @Test
  void damageInSeveralCheckpointsFallsBackPastAllOfThemAndReportsEach() throws IOException {
    CheckpointStore store = store();
    Checkpoint oldest = store.save(CheckpointRequest.of(0, 1), bytesWriter(500, 0));
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 0);
    truncate(saved[0].file("state.json"), 0);

    assertThat(store.latestValid()).contains(oldest);
    assertThat(store.problems())
        .extracting(CheckpointProblem::checkpoint, CheckpointProblem::file)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(saved[1].directory(), "model.bin"),
            org.assertj.core.groups.Tuple.tuple(saved[0].directory(), "state.json"));
  }

  @Test
  void onlyCorruptCheckpointsGiveEmptyWithProblemsExplainingEach() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[0].file("model.bin"), 10);
    Files.delete(saved[1].directory().resolve("manifest.json"));

    assertThat(store.latestValid()).isEmpty();
    assertThat(store.problems())
        .extracting(CheckpointProblem::kind)
        .containsExactly(Kind.MISSING_MANIFEST, Kind.CHECKSUM_MISMATCH);
  }

  @Test
  void problemsAreClearedByTheNextCleanLoad() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 0);
    store.latestValid();
    assertThat(store.problems()).hasSize(1);

    flipByte(saved[1].file("model.bin"), 0); // flip back

    assertThat(store.latestValid()).contains(saved[1]);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void verifyThrowsNamingTheBadFileAndRecordsProblems() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("state.json"), 1);

    assertThatThrownBy(() -> store.verify(Path.of(saved[1].name())))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining(saved[1].directory().toString())
        .hasMessageContaining("state.json: CRC32C of bytes 0-9 (part 1) is")
        .satisfies(e -> assertThat(((CheckpointException) e).problems()).hasSize(1));
    assertThat(store.problems())
        .singleElement()
        .extracting(CheckpointProblem::file)
        .isEqualTo("state.json");
    assertThat(store.verify(saved[0].directory())).isEqualTo(saved[0]);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void listSkipsCheckpointsWithoutReadableManifestButVerifyDoesNot() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    Files.delete(saved[0].directory().resolve("manifest.json"));

    assertThat(store.list()).containsExactly(saved[1]);
    assertThatThrownBy(() -> store.verify(saved[0].directory()))
        .hasMessageContaining("manifest.json: manifest is missing");
  }

  // ---------------------------------------------------------------- part checksums

  private static final int MIB = 1 << 20;

  private Checkpoint[] saveTwoLarge(CheckpointStore store) {
    Checkpoint older = store.save(CheckpointRequest.of(1, 10), randomWriter(3 * MIB, 1));
    Checkpoint newer = store.save(CheckpointRequest.of(2, 20), randomWriter(3 * MIB, 2));
    return new Checkpoint[] {older, newer};
  }

  @Test
  void fileOverOneMebibyteIsSavedWithTheCrc32cOfEachMebibyte() throws IOException {
    CheckpointStore store = store();
    byte[] data = randomBytes(3 * MIB + 100, 3);

    Checkpoint saved =
        store.save(CheckpointRequest.of(0, 1), d -> Files.write(d.resolve("model.bin"), data));

    CheckpointFile model = saved.files().get("model.bin");
    assertThat(model.size()).isEqualTo(3 * MIB + 100);
    assertThat(model.sha256()).isEqualTo(Sha256.of(data));
    assertThat(model.partSize()).isEqualTo(MIB);
    assertThat(model.partCrc32c())
        .containsExactly(
            crc32c(data, 0, MIB),
            crc32c(data, MIB, MIB),
            crc32c(data, 2 * MIB, MIB),
            crc32c(data, 3 * MIB, 100));
    assertThat(store.latestValid().orElseThrow().files().get("model.bin")).isEqualTo(model);
  }

  @Test
  void filesUpToOneMebibyteAreSavedAsOnePartOfOneMebibyteWithItsCrc32c() throws IOException {
    Checkpoint saved = store().save(CheckpointRequest.of(0, 1), bytesWriter(MIB, 1));

    CheckpointFile model = saved.files().get("model.bin");
    assertThat(model.partSize()).isEqualTo(MIB);
    assertThat(model.partCrc32c()).containsExactly(crc32c(bytes(MIB, 1), 0, MIB));
    byte[] state = Files.readAllBytes(saved.file("state.json"));
    CheckpointFile stateFile = saved.files().get("state.json");
    assertThat(stateFile.partSize()).isEqualTo(MIB);
    assertThat(stateFile.partCrc32c()).containsExactly(crc32c(state, 0, state.length));
  }

  @Test
  void anEmptyFileIsSavedWithoutPartsAndLoads() {
    CheckpointStore store = store();

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1), d -> Files.write(d.resolve("empty.bin"), new byte[0]));

    assertThat(saved.files().get("empty.bin"))
        .isEqualTo(
            new CheckpointFile(
                "empty.bin",
                0,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assertThat(store.latestValid()).contains(saved);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void flippedByteInTheSecondMebibyteFallsBackAndNamesPartTwoAndItsByteRange() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwoLarge(store);
    Path model = saved[1].file("model.bin");
    byte[] original = Files.readAllBytes(model);
    flipByte(model, MIB + MIB / 2);
    byte[] damaged = Files.readAllBytes(model);

    Optional<Checkpoint> latest = store.latestValid();

    assertThat(latest).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.CHECKSUM_MISMATCH);
              assertThat(p.file()).isEqualTo("model.bin");
              assertThat(p.checkpoint()).isEqualTo(saved[1].directory());
              assertThat(p.detail())
                  .isEqualTo(
                      "CRC32C of bytes 1048576-2097151 (part 2) is "
                          + crc32c(damaged, MIB, MIB)
                          + " but the manifest says "
                          + crc32c(original, MIB, MIB)
                          + " (contents changed on disk)");
            });
  }

  @Test
  void verifyNamesEveryDamagedPartInPartOrder() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwoLarge(store);
    flipByte(saved[1].file("model.bin"), 3 * MIB - 1);
    flipByte(saved[1].file("model.bin"), 0);

    assertThatThrownBy(() -> store.verify(saved[1].directory()))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("model.bin: CRC32C of bytes 0-1048575 (part 1) is ")
        .hasMessageContaining("model.bin: CRC32C of bytes 2097152-3145727 (part 3) is ")
        .satisfies(e -> assertThat(((CheckpointException) e).problems()).hasSize(2));
    assertThat(store.problems())
        .extracting(CheckpointProblem::detail)
        .satisfiesExactly(
            d -> assertThat(d).startsWith("CRC32C of bytes 0-1048575 (part 1) is "),
            d -> assertThat(d).startsWith("CRC32C of bytes 2097152-3145727 (part 3) is "));
  }

  @Test
  void damagedPartAndSmallFileAreBothReported() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwoLarge(store);
    flipByte(saved[1].file("model.bin"), 2 * MIB);
    flipByte(saved[1].file("state.json"), 1);

    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .extracting(CheckpointProblem::file, CheckpointProblem::kind)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("model.bin", Kind.CHECKSUM_MISMATCH),
            org.assertj.core.groups.Tuple.tuple("state.json", Kind.CHECKSUM_MISMATCH));
    assertThat(store.problems())
        .filteredOn(p -> p.file().equals("model.bin"))
        .singleElement()
        .extracting(CheckpointProblem::detail)
        .asString()
        .startsWith("CRC32C of bytes 2097152-3145727 (part 3) is ");
  }

  @Test
  void threadsForSavingAndVerifyingComeFromTheThreadFactoryAndAreFinishedOnReturn() {
    RecordingThreadFactory threads = new RecordingThreadFactory();
    CheckpointStore store = CheckpointStore.builder(dir).threadFactory(threads).build();

    store.save(CheckpointRequest.of(0, 1), randomWriter(3 * MIB, 4));

    assertThat(threads.created()).isNotEmpty();
    assertThat(threads.created()).noneMatch(Thread::isAlive);

    threads.reset();
    assertThat(store.verify(Path.of("ckpt-000000000001-e0000"))).isNotNull();

    if (Runtime.getRuntime().availableProcessors() > 1) {
      assertThat(threads.created()).isNotEmpty();
    }
    assertThat(threads.created()).noneMatch(Thread::isAlive);
  }

  @Test
  void toBuilderKeepsTheThreadFactory() {
    RecordingThreadFactory threads = new RecordingThreadFactory();
    CheckpointStore copy =
        CheckpointStore.builder(dir).threadFactory(threads).build().toBuilder().build();

    copy.save(CheckpointRequest.of(0, 1), bytesWriter(10, 1));

    assertThat(threads.created()).isNotEmpty();
  }

  // ------------------------------------------------------------------------------------------- bad
  // input

  @Test
  void writerCreatingManifestJsonIsRejectedAndNothingCommits() throws IOException {
    CheckpointStore store = store();

    assertThatThrownBy(
            () ->
                store.save(
                    CheckpointRequest.of(0, 1),
                    d -> Files.writeString(d.resolve("manifest.json"), "{}")))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("manifest.json is reserved");
    assertThat(entries(dir)).isEmpty();
  }

  @Test
  void writerThrowingRuntimeExceptionFailsTheSaveWithItAsCause() throws IOException {
    CheckpointStore store = store();
    IllegalStateException bug = new IllegalStateException("model not initialized");

    assertThatThrownBy(
            () ->
                store.save(
                    CheckpointRequest.of(0, 1),
                    d -> {
                      throw bug;
                    }))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("the checkpoint writer threw")
        .hasCause(bug);
    assertThat(entries(dir)).isEmpty();
  }

  @Test
  void anInterruptOfTheSyncThreadFailsTheSaveSayingSoAndLeavesNothing() throws IOException {
    RecordingThreadFactory threads = new RecordingThreadFactory();
    CheckpointStore store = store().toBuilder().threadFactory(threads).build();
    Checkpoint earlier = store.save(CheckpointRequest.of(0, 1), bytesWriter(1000, 1));
    int before = threads.created().size();

    assertThatThrownBy(
            () ->
                store.save(
                    CheckpointRequest.of(0, 2),
                    d -> {
                      bytesWriter(1000, 2).write(d);
                      // The save's first thread is its sync thread, waiting for the files.
                      Thread syncer = threads.created().get(before);
                      syncer.interrupt();
                      Threads.joinUninterruptibly(syncer);
                    }))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("sync thread was interrupted before it synced every file");

    assertThat(store.list()).containsExactly(earlier);
    assertThat(entries(dir)).containsExactly(earlier.directory().getFileName().toString());
  }

  @Test
  void writerThrowingAnUndeclaredCheckedExceptionFailsTheSaveRemovesItsFilesAndEndsItsThreads()
      throws IOException {
    RecordingThreadFactory threads = new RecordingThreadFactory();
    CheckpointStore store = store().toBuilder().threadFactory(threads).build();
    TimeoutException timeout = new TimeoutException("gathering the optimizer state timed out");
    List<Thread> aliveInTheWriter = new ArrayList<>();

    assertThatThrownBy(
            () ->
                store.save(
                    CheckpointRequest.of(0, 1),
                    d -> {
                      // A large file the store follows as it is written, left unfinished.
                      Path file = d.resolve("model.bin");
                      try (FileChannel channel =
                          FileChannel.open(
                              file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        TrailingHashes.Tracker tracker = TrailingHashes.track(file);
                        tracker.write(channel, ByteBuffer.wrap(randomBytes(2 * MIB, 1)));
                      }
                      threads.created().stream()
                          .filter(Thread::isAlive)
                          .forEach(aliveInTheWriter::add);
                      sneakyThrow(timeout); // as Kotlin or Lombok's @SneakyThrows code may
                    }))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("the checkpoint writer threw " + timeout)
        .hasCause(timeout);

    assertThat(aliveInTheWriter).as("the sync thread and the tracker's").hasSize(2);
    assertThat(threads.created()).noneMatch(Thread::isAlive);
    assertThat(entries(dir)).isEmpty();
    assertThat(store.latestValid()).isEmpty();
  }

  @Test
  void directoryThatIsAFileFailsToBuildNamingIt() throws IOException {
    Path file = Files.writeString(dir.resolve("file"), "x");

    assertThatThrownBy(() -> CheckpointStore.builder(file).build())
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("Could not create checkpoint directory " + file);
  }

  @Test
  void toBuilderKeepsSettings() {
    Retention retention = Retention.builder().keepLast(5).build();
    CheckpointStore store =
        CheckpointStore.builder(dir).retention(retention).versions(Map.of("kiln", "9")).build();

    CheckpointStore copy = store.toBuilder().build();

    assertThat(copy.retention()).isEqualTo(retention);
    assertThat(copy.versions()).containsEntry("kiln", "9");
    assertThat(copy.directory()).isEqualTo(store.directory());
  }

  /** Throws {@code t}, checked or not, without declaring it. */
  @SuppressWarnings("unchecked")
  private static <E extends Throwable> void sneakyThrow(Throwable t) throws E {
    throw (E) t;
  }
}
