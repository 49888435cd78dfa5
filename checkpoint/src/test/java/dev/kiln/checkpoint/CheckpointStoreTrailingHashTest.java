package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.IndependentChecksums.partCrc32cs;
import static dev.kiln.checkpoint.IndependentChecksums.sha256;
import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.kiln.checkpoint.internal.TrailingHashes;
import dev.kiln.checkpoint.internal.Writeback;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saves whose writer uses {@link TensorFile#write}, which the store hashes while it is written. */
class CheckpointStoreTrailingHashTest {

  private static final int MIB = 1 << 20;

  /** Floats in a tensor of a little over 3 MiB, so its file ends inside its fourth part. */
  private static final int FLOATS = 3 * MIB / 4 + 1000;

  @TempDir Path dir;

  private NDManager manager;
  private final RecordingThreadFactory threads = new RecordingThreadFactory();

  @BeforeEach
  void setUp() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void tearDown() {
    manager.close();
  }

  /** A store on the recording factory that prunes nothing, so it starts no deleter thread. */
  private CheckpointStore store() {
    return CheckpointStore.builder(dir)
        .clock(CLOCK)
        .threadFactory(threads)
        .retention(Retention.builder().keepLast(100).build())
        .build();
  }

  @Test
  void aTensorFileAndAJsonFileAreRecordedWithTheSizeSha256AndPartCrc32csOfTheirCommittedBytes()
      throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 1);

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
              Files.writeString(d.resolve("state.json"), "{\"step\":1}");
            });

    assertThat(saved.files()).containsOnlyKeys("model.ndlist", "state.json");
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertRecordedAsCommitted(saved, "state.json");
    assertThat(saved.files().get("model.ndlist").size()).isGreaterThan(3L * MIB);
    assertThat(saved.files().get("model.ndlist").partCrc32c()).hasSize(4);
    assertThat(threads.created()).isNotEmpty().noneMatch(Thread::isAlive);
    assertThat(store.latestValid()).contains(saved);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void aTensorFileIsFollowedOnOneFactoryThreadWhileTheWriterRunsAndASmallJsonFileIsNot()
      throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 2);
    List<Thread> duringTheTensorFile = new ArrayList<>();
    List<Thread> duringTheJsonFile = new ArrayList<>();

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              int before = threads.created().size();
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
              duringTheTensorFile.addAll(
                  threads.created().subList(before, threads.created().size()));
              before = threads.created().size();
              Files.writeString(d.resolve("state.json"), "{\"step\":1}");
              duringTheJsonFile.addAll(threads.created().subList(before, threads.created().size()));
            });

    assertThat(duringTheTensorFile)
        .as("tracker threads started by TensorFile.write (hashing, and writing where direct)")
        .hasSize(DirectIo.threadsPerFollowedFile(dir));
    assertThat(duringTheJsonFile).as("threads started for the JSON file").isEmpty();
    assertThat(threads.created()).noneMatch(Thread::isAlive);
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertRecordedAsCommitted(saved, "state.json");
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void aTensorFilePatchedInPlaceRightAfterItsWriterIsRecordedWithThePatchedBytesChecksums()
      throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 20);
    long offset = 2L * MIB + 5; // inside the tensor's data, in the third part
    byte[] unpatched = new byte[1];
    List<Thread> trackers = new ArrayList<>();

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              Path file = d.resolve("model.ndlist");
              int before = threads.created().size();
              TensorFile.write(file, Map.of("fc.weight", weights));
              // Waits until the tracker has hashed the file as written.
              trackers.addAll(threads.created().subList(before, threads.created().size()));
              for (Thread tracker : trackers) {
                joinUninterruptibly(tracker);
              }
              unpatched[0] = Files.readAllBytes(file)[(int) offset];
              // Same size, within a tick of a coarse file system clock of the writer's end.
              try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.write(ByteBuffer.wrap(new byte[] {(byte) (unpatched[0] ^ 0x40)}), offset);
              }
            });

    assertThat(trackers)
        .as("the file was followed as it was written")
        .hasSize(DirectIo.threadsPerFollowedFile(dir));
    byte[] committed = Files.readAllBytes(saved.file("model.ndlist"));
    assertThat(committed[(int) offset]).isEqualTo((byte) (unpatched[0] ^ 0x40));
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
    assertThat(store.problems()).isEmpty();
    CheckpointStore sha256 = store.toBuilder().verification(Verification.SHA256).build();
    assertThat(sha256.verify(saved.directory())).isEqualTo(saved);
    assertThat(sha256.latestValid()).contains(saved);
    assertThat(sha256.problems()).isEmpty();
  }

  @Test
  void eachTensorFileIsFlushedWhileTheWriterGoesOn() throws IOException {
    RecordingFileOps fileOps = new RecordingFileOps();
    CheckpointStore store = store().toBuilder().fileOps(fileOps).build();

    // The sync thread flushes each file once told it is finished, while the writer goes on: the
    // writer waits until it has.
    Checkpoint saved =
        saveModelAndOptimizer(store, () -> awaitCall(fileOps, "flush optimizer.ndlist"));

    List<String> calls = fileOps.calls();
    assertThat(calls).contains("flush model.ndlist").containsOnlyOnce("fsync model.ndlist");
    assertThat(calls.lastIndexOf("flush model.ndlist"))
        .isLessThan(calls.indexOf("fsync model.ndlist"));
    assertThat(calls.indexOf("flush optimizer.ndlist"))
        .isLessThan(calls.indexOf("fsync optimizer.ndlist"));
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void aFailedEarlyFlushFailsTheSaveForTheFsyncAfterItMightNotReportTheError() throws IOException {
    RecordingFileOps fileOps =
        new RecordingFileOps().failOn("flush model.ndlist", new IOException("Input/output error"));
    CheckpointStore store = store().toBuilder().fileOps(fileOps).build();
    Checkpoint committed =
        store.save(CheckpointRequest.of(0, 1), d -> Files.writeString(d.resolve("a.json"), "{}"));
    NDArray weights = tensor(3 * MIB / 4, 7); // 3 MiB

    assertThatThrownBy(
            () ->
                store.save(
                    CheckpointRequest.of(0, 2),
                    d -> {
                      TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
                      awaitCall(fileOps, "flush model.ndlist");
                    }))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("model.ndlist")
        .hasMessageContaining("Input/output error");
    assertThat(store.list()).containsExactly(committed);
    assertThat(store.latestValid()).contains(committed);
  }

  @Test
  void aFileTheWriterRemovedBeforeItsEarlyFlushDoesNotFailTheSave() throws IOException {
    RecordingFileOps fileOps =
        new RecordingFileOps()
            .failOn("flush optimizer.ndlist", new NoSuchFileException("optimizer.ndlist"));
    CheckpointStore store = store().toBuilder().fileOps(fileOps).build();

    Checkpoint saved =
        saveModelAndOptimizer(store, () -> awaitCall(fileOps, "flush optimizer.ndlist"));

    assertThat(saved.files()).containsKeys("model.ndlist", "optimizer.ndlist");
    assertThat(store.latestValid()).contains(saved);
  }

  /**
   * Saves a 3 MiB {@code model.ndlist} and a small {@code optimizer.ndlist} with {@code
   * TensorFile}, then runs {@code afterWriting} in the writer.
   */
  private Checkpoint saveModelAndOptimizer(CheckpointStore store, Runnable afterWriting) {
    NDArray weights = tensor(3 * MIB / 4, 7); // 3 MiB
    NDArray small = tensor(1000, 8);
    return store.save(
        CheckpointRequest.of(0, 1),
        d -> {
          TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
          TensorFile.write(d.resolve("optimizer.ndlist"), Map.of("fc.weight.m", small));
          afterWriting.run();
        });
  }

  /** Waits until {@code fileOps} has recorded {@code call}, on whatever thread makes it. */
  private static void awaitCall(RecordingFileOps fileOps, String call) {
    assertTimeoutPreemptively(
        Duration.ofSeconds(60),
        () -> {
          while (!fileOps.calls().contains(call)) {
            Thread.onSpinWait();
          }
        });
  }

  @Test
  void onLinuxTheWritersThreadStartsEachTensorFilesWritebackSoTheSyncThreadFlushesNothing()
      throws IOException {
    assumeTrue(Writeback.suits(dir), "sync_file_range works here");
    RecordingFileOps fileOps = new RecordingFileOps().withWriteback();
    CheckpointStore store = store().toBuilder().fileOps(fileOps).build();

    Checkpoint saved = saveModelAndOptimizer(store, () -> {});

    List<String> calls = fileOps.calls();
    assertThat(calls).contains("writeback model.ndlist").noneMatch(c -> c.startsWith("flush "));
    assertThat(fileOps.writebackThreads()).containsOnly(Thread.currentThread());
    assertThat(calls.lastIndexOf("writeback model.ndlist"))
        .isLessThan(calls.indexOf("fsync model.ndlist"));
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void aWritebackTheSystemRefusesIsFlushedByTheSyncThreadAndDoesNotFailTheSave()
      throws IOException {
    RecordingFileOps fileOps =
        new RecordingFileOps()
            .withWriteback()
            .failOn("writeback model.ndlist", new IOException("Operation not supported"));
    CheckpointStore store = store().toBuilder().fileOps(fileOps).build();
    NDArray weights = tensor(3 * MIB / 4, 7); // 3 MiB

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
              awaitCall(fileOps, "flush model.ndlist");
            });

    List<String> calls = fileOps.calls();
    assertThat(calls.indexOf("writeback model.ndlist"))
        .isLessThan(calls.indexOf("flush model.ndlist"));
    assertThat(calls.indexOf("flush model.ndlist")).isLessThan(calls.indexOf("fsync model.ndlist"));
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void aTensorFileAppendedToWithItsTimeKeptIsRecordedAsCommittedAndTheCheckpointVerifies()
      throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 3);
    byte[] trailer = randomBytes(4096, 4);

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              Path file = d.resolve("model.ndlist");
              TensorFile.write(file, Map.of("fc.weight", weights));
              FileTime written = Files.getLastModifiedTime(file);
              Files.write(file, trailer, StandardOpenOption.APPEND);
              Files.setLastModifiedTime(file, written);
            });

    byte[] committed = Files.readAllBytes(saved.file("model.ndlist"));
    assertThat(committed).endsWith(trailer);
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(threads.created()).noneMatch(Thread::isAlive);
    assertThat(store.latestValid()).contains(saved);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void aTensorFileRewrittenShorterAfterItsWriterFinishedIsRecordedAsCommittedAndVerifies()
      throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 5);
    byte[] replacement = randomBytes(MIB + 17, 6);

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              Path file = d.resolve("model.ndlist");
              TensorFile.write(file, Map.of("fc.weight", weights));
              Files.write(file, replacement);
            });

    assertThat(Files.readAllBytes(saved.file("model.ndlist"))).isEqualTo(replacement);
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void aTensorFileReplacedByAnotherOfTheSameSizeIsRecordedWithTheReplacementsChecksums()
      throws IOException {
    CheckpointStore store = store();
    NDArray first = tensor(FLOATS, 7);
    NDArray second = tensor(FLOATS, 8);

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              Path file = d.resolve("model.ndlist");
              Path other = d.resolve("other.ndlist");
              TensorFile.write(file, Map.of("fc.weight", first));
              TensorFile.write(other, Map.of("fc.weight", second));
              // Same size and modification time: only the file's identity tells the two apart.
              Files.setLastModifiedTime(other, Files.getLastModifiedTime(file));
              Files.move(other, file, StandardCopyOption.REPLACE_EXISTING);
            });

    assertThat(saved.files()).containsOnlyKeys("model.ndlist");
    assertRecordedAsCommitted(saved, "model.ndlist");
    Optional<Map<String, NDArray>> loaded =
        store.latestValid(c -> TensorFile.read(c.file("model.ndlist"), manager));
    assertThat(loaded).isPresent();
    assertThat(loaded.get().get("fc.weight").contentEquals(second)).isTrue();
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void aTensorFileWrittenTwiceOnTheSamePathIsCommittedWithTheSecondContentsAndTheirChecksums()
      throws IOException {
    CheckpointStore store = store();
    NDArray first = tensor(FLOATS, 9);
    NDArray second = tensor(MIB / 4 + 3, 10);
    NDArray third = tensor(FLOATS + MIB / 2, 11);

    Checkpoint shrunk =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", first));
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", second));
            });
    Checkpoint grown =
        store.save(
            CheckpointRequest.of(0, 2),
            d -> {
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", second));
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", third));
            });

    assertRecordedAsCommitted(shrunk, "model.ndlist");
    assertRecordedAsCommitted(grown, "model.ndlist");
    assertThat(TensorFile.read(shrunk.file("model.ndlist"), manager).get("fc.weight"))
        .matches(read -> read.contentEquals(second), "equals the second tensor");
    assertThat(TensorFile.read(grown.file("model.ndlist"), manager).get("fc.weight"))
        .matches(read -> read.contentEquals(third), "equals the third tensor");
    assertThat(threads.created()).noneMatch(Thread::isAlive);
    assertThat(store.verify(shrunk.directory())).isEqualTo(shrunk);
    assertThat(store.latestValid()).contains(grown);
  }

  @Test
  void tensorFilesInSubdirectoriesAndOnOtherThreadsOfTheWriterAreRecordedAsCommitted()
      throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 12);
    NDArray moments = tensor(MIB / 2, 13);
    NDArray elsewhere = tensor(MIB / 3, 14);

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              Files.createDirectories(d.resolve("optimizer"));
              TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
              TensorFile.write(d.resolve("optimizer/adam.ndlist"), Map.of("m", moments));
              // Not the store's thread: written untracked, hashed by the store afterwards.
              IOException[] failed = new IOException[1];
              Thread helper =
                  new Thread(
                      () -> {
                        try {
                          TensorFile.write(d.resolve("ema.ndlist"), Map.of("w", elsewhere));
                        } catch (IOException e) {
                          failed[0] = e;
                        }
                      });
              helper.start();
              try {
                helper.join();
              } catch (InterruptedException e) {
                throw new IOException(e);
              }
              if (failed[0] != null) {
                throw failed[0];
              }
            });

    assertThat(saved.files())
        .containsOnlyKeys("model.ndlist", "optimizer/adam.ndlist", "ema.ndlist");
    for (String name : saved.files().keySet()) {
      assertRecordedAsCommitted(saved, name);
    }
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void aTensorFileWhoseWriteFailedPartWayIsRecordedAsItIsOnDisk() throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 15);
    NDArray closed = tensor(10, 16);
    closed.close();
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("fc.weight", weights);
    tensors.put("closed", closed);
    RuntimeException[] failure = new RuntimeException[1];

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              try {
                TensorFile.write(d.resolve("model.ndlist"), tensors);
              } catch (RuntimeException e) {
                failure[0] = e; // the writer carries on and leaves the partial file
              }
            });

    assertThat(failure[0]).as("writing a closed array fails").isNotNull();
    assertThat(saved.files().get("model.ndlist").size()).isGreaterThan(3L * MIB);
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void moreLargeTensorFilesThanAreFollowedAtOnceAreAllRecordedAsCommitted() throws IOException {
    CheckpointStore store = store();
    List<NDArray> tensors = new ArrayList<>();
    for (int i = 0; i < TrailingHashes.MAX_ACTIVE + 2; i++) {
      tensors.add(tensor(MIB / 4 + 1000 * i, 30 + i));
    }

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              for (int i = 0; i < tensors.size(); i++) {
                TensorFile.write(d.resolve("part-" + i + ".ndlist"), Map.of("w", tensors.get(i)));
              }
            });

    assertThat(saved.files()).hasSize(tensors.size());
    for (String name : saved.files().keySet()) {
      assertRecordedAsCommitted(saved, name);
    }
    assertThat(threads.created()).noneMatch(Thread::isAlive);
    assertThat(store.latestValid()).contains(saved);
    assertThat(
            store.toBuilder().verification(Verification.SHA256).build().verify(saved.directory()))
        .isEqualTo(saved);
  }

  @Test
  void aTensorFileTheWriterDeletesAfterwardsIsNotInTheCheckpoint() throws IOException {
    CheckpointStore store = store();
    NDArray weights = tensor(FLOATS, 21);
    NDArray kept = tensor(FLOATS, 22);

    Checkpoint saved =
        store.save(
            CheckpointRequest.of(0, 1),
            d -> {
              TensorFile.write(d.resolve("scratch.ndlist"), Map.of("w", weights));
              TensorFile.write(d.resolve("model.ndlist"), Map.of("w", kept));
              Files.delete(d.resolve("scratch.ndlist"));
            });

    assertThat(saved.files()).containsOnlyKeys("model.ndlist");
    assertRecordedAsCommitted(saved, "model.ndlist");
    assertThat(store.latestValid()).contains(saved);
  }

  @Test
  void aCheckpointSavedWithTensorFileLoadsWithCrc32cAndWithSha256Verification() throws IOException {
    NDArray weights = tensor(FLOATS, 17);
    Checkpoint saved =
        store()
            .save(
                CheckpointRequest.of(0, 1),
                d -> {
                  TensorFile.write(d.resolve("model.ndlist"), Map.of("fc.weight", weights));
                  Files.writeString(d.resolve("state.json"), "{\"step\":1}");
                });

    for (Verification verification : Verification.values()) {
      // Read from memory after verifying (the default for a small checkpoint), and read while
      // verifying (as a large checkpoint is).
      for (long concurrentReadBytes : new long[] {64L << 20, 0}) {
        CheckpointStore store =
            store().toBuilder()
                .verification(verification)
                .concurrentReadBytes(concurrentReadBytes)
                .build();

        Optional<Map<String, NDArray>> loaded =
            store.latestValid(c -> TensorFile.read(c.file("model.ndlist"), manager));

        String how = verification + " reading from " + concurrentReadBytes + " bytes concurrently";
        assertThat(loaded).as(how).isPresent();
        assertThat(loaded.get().get("fc.weight").contentEquals(weights)).as(how).isTrue();
        assertThat(store.problems()).as(how).isEmpty();
        assertThat(store.latestValid()).as(how).contains(saved);
        assertThat(store.verify(saved.directory())).as(how).isEqualTo(saved);
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  /** A float tensor of {@code floats} values from {@code seed}. */
  private NDArray tensor(int floats, long seed) {
    Random random = new Random(seed);
    float[] values = new float[floats];
    for (int i = 0; i < floats; i++) {
      values[i] = random.nextFloat();
    }
    return manager.create(values);
  }

  /**
   * Asserts that the manifest entry of {@code name} has the size, SHA-256 and part CRC32Cs (parts
   * of 1 MiB) of the committed file's bytes, all computed here.
   */
  private static void assertRecordedAsCommitted(Checkpoint checkpoint, String name)
      throws IOException {
    byte[] bytes = Files.readAllBytes(checkpoint.file(name));
    CheckpointFile recorded = checkpoint.files().get(name);
    assertThat(recorded).as(name).isNotNull();
    assertThat(bytes.length).as("%s is under 64 MiB", name).isLessThanOrEqualTo(64 * MIB);

    assertThat(recorded)
        .as(name)
        .isEqualTo(
            new CheckpointFile(name, bytes.length, sha256(bytes), MIB, partCrc32cs(bytes, MIB)));
  }

  private static void joinUninterruptibly(Thread thread) throws IOException {
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }
}
