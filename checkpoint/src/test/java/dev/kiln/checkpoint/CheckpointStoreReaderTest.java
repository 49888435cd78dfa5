package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static dev.kiln.checkpoint.TestCheckpoints.flipByte;
import static dev.kiln.checkpoint.TestCheckpoints.randomWriter;
import static dev.kiln.checkpoint.TestCheckpoints.truncate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.kiln.checkpoint.CheckpointProblem.Kind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CheckpointStore#latestValid(CheckpointReader)}: reading while the checksums verify. */
class CheckpointStoreReaderTest {

  private static final int MIB = 1 << 20;

  @TempDir Path dir;

  private final RecordingThreadFactory threads = new RecordingThreadFactory();

  private CheckpointStore store() {
    return CheckpointStore.builder(dir)
        .clock(CLOCK)
        .retention(Retention.builder().keepLast(10).build())
        .threadFactory(threads)
        .concurrentReadBytes(0) // these checkpoints are small; read them while verifying anyway
        .build();
  }

  /** Two checkpoints (steps 10 and 20) each with a 3 MiB {@code model.bin} in three parts. */
  private Checkpoint[] saveTwo(CheckpointStore store) {
    Checkpoint older = store.save(CheckpointRequest.of(1, 10), randomWriter(3 * MIB, 1));
    Checkpoint newer = store.save(CheckpointRequest.of(2, 20), randomWriter(3 * MIB, 2));
    return new Checkpoint[] {older, newer};
  }

  /** What the reader returns: which checkpoint it came from, and whether it was closed. */
  private static final class RecordingResult implements AutoCloseable {
    final long step;
    final byte[] head;
    int closed;

    RecordingResult(long step, byte[] head) {
      this.step = step;
      this.head = head;
    }

    @Override
    public void close() {
      closed++;
    }
  }

  /** Reads the first bytes of {@code model.bin}; records every checkpoint and every result. */
  private static final class RecordingReader implements CheckpointReader<RecordingResult> {
    final List<Long> steps = new ArrayList<>();
    final List<RecordingResult> results = new ArrayList<>();
    final List<Thread> threads = new ArrayList<>();

    @Override
    public RecordingResult read(Checkpoint checkpoint) throws IOException {
      steps.add(checkpoint.step());
      threads.add(Thread.currentThread());
      byte[] head = new byte[16];
      System.arraycopy(Files.readAllBytes(checkpoint.file("model.bin")), 0, head, 0, head.length);
      RecordingResult result = new RecordingResult(checkpoint.step(), head);
      results.add(result);
      return result;
    }
  }

  @Test
  void whenTheChecksumsCannotBeCheckedTheReadersResultIsClosedAndTheErrorThrown() {
    saveTwo(store());
    RecordingReader reader = new RecordingReader();
    int[] made = new int[1];
    // The verifying thread starts; the hashing threads it needs cannot be created.
    CheckpointStore store =
        store().toBuilder()
            .threadFactory(
                task -> {
                  if (made[0]++ > 0) {
                    throw new OutOfMemoryError("unable to create native thread");
                  }
                  return new Thread(task);
                })
            .build();

    Throwable thrown = catchThrowable(() -> store.latestValid(reader));

    assertThat(thrown).isInstanceOf(OutOfMemoryError.class);
    assertThat(reader.results).isNotEmpty().allMatch(r -> r.closed == 1);
  }

  @Test
  void aCheckpointUnder64MibIsVerifiedFirstSoTheReaderNeverSeesADamagedOne() throws IOException {
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .clock(CLOCK)
            .retention(Retention.builder().keepLast(10).build())
            .build();
    Checkpoint[] both = saveTwo(store);
    flipByte(both[1].file("model.bin"), MIB + 7);
    RecordingReader reader = new RecordingReader();

    Optional<RecordingResult> result = store.latestValid(reader);

    assertThat(reader.steps).containsExactly(10L);
    assertThat(result).containsSame(reader.results.get(0));
    assertThat(store.problems())
        .singleElement()
        .satisfies(p -> assertThat(p.kind()).isEqualTo(Kind.CHECKSUM_MISMATCH));
  }

  @Test
  void returnsWhatTheReaderReadFromTheNewestCheckpoint() {
    CheckpointStore store = store();
    saveTwo(store);
    RecordingReader reader = new RecordingReader();

    Optional<RecordingResult> result = store.latestValid(reader);

    assertThat(result).containsSame(reader.results.get(0));
    assertThat(reader.steps).containsExactly(20L);
    assertThat(result.orElseThrow().closed).isZero();
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void damagedNewestClosesWhatTheReaderReturnedAndReturnsTheOlderOne() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), MIB + 10);
    RecordingReader reader = new RecordingReader();

    Optional<RecordingResult> result = store.latestValid(reader);

    assertThat(reader.steps).containsExactly(20L, 10L);
    assertThat(result).containsSame(reader.results.get(1));
    assertThat(reader.results.get(0).closed).isEqualTo(1);
    assertThat(reader.results.get(1).closed).isZero();
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.checkpoint()).isEqualTo(saved[1].directory());
              assertThat(p.file()).isEqualTo("model.bin");
              assertThat(p.kind()).isEqualTo(Kind.CHECKSUM_MISMATCH);
              assertThat(p.detail()).startsWith("CRC32C of bytes 1048576-2097151 (part 2) is ");
            });
  }

  @Test
  void resultThatIsNotCloseableFromADamagedCheckpointIsDropped() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 0);

    Optional<String> result = store.latestValid(c -> "step " + c.step());

    assertThat(result).contains("step 10");
    assertThat(store.problems()).hasSize(1);
  }

  @Test
  void ioExceptionFromTheReaderOnAValidCheckpointIsWrappedInCheckpointException() {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    IOException failure = new IOException("tensor file unreadable");
    List<Long> steps = new ArrayList<>();

    Throwable thrown =
        catchThrowable(
            () ->
                store.latestValid(
                    c -> {
                      steps.add(c.step());
                      throw failure;
                    }));

    assertThat(thrown)
        .isInstanceOf(CheckpointException.class)
        .hasCause(failure)
        .hasMessageContaining(saved[1].directory().toString())
        .hasMessageContaining("tensor file unreadable");
    assertThat(steps).containsExactly(20L);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void runtimeExceptionFromTheReaderOnAValidCheckpointIsThrownAsItIs() {
    CheckpointStore store = store();
    saveTwo(store);
    IllegalStateException bug = new IllegalStateException("model not initialized");
    List<Long> steps = new ArrayList<>();

    Throwable thrown =
        catchThrowable(
            () ->
                store.latestValid(
                    c -> {
                      steps.add(c.step());
                      throw bug;
                    }));

    assertThat(thrown).isSameAs(bug);
    assertThat(steps).containsExactly(20L);
  }

  @Test
  void readerThrowingIoExceptionOnADamagedCheckpointIsSkippedForTheOlderOne() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 2 * MIB + 5);

    Optional<Long> result =
        store.latestValid(
            c -> {
              if (c.step() == 20) {
                throw new IOException("garbled header");
              }
              return c.step();
            });

    assertThat(result).contains(10L);
    assertThat(store.problems())
        .singleElement()
        .extracting(CheckpointProblem::detail)
        .asString()
        .startsWith("CRC32C of bytes 2097152-3145727 (part 3) is ");
  }

  @Test
  void readerThrowingRuntimeExceptionOnADamagedCheckpointIsSkippedForTheOlderOne()
      throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 5);

    Optional<Long> result =
        store.latestValid(
            c -> {
              if (c.step() == 20) {
                throw new IllegalArgumentException("shape (-3) is negative");
              }
              return c.step();
            });

    assertThat(result).contains(10L);
    assertThat(store.problems()).hasSize(1);
  }

  @Test
  void readerIsNotCalledOnACheckpointWithATruncatedFile() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    truncate(saved[1].file("model.bin"), MIB);
    RecordingReader reader = new RecordingReader();

    Optional<RecordingResult> result = store.latestValid(reader);

    assertThat(reader.steps).containsExactly(10L);
    assertThat(result).containsSame(reader.results.get(0));
    assertThat(store.problems())
        .singleElement()
        .extracting(CheckpointProblem::kind)
        .isEqualTo(Kind.SIZE_MISMATCH);
  }

  @Test
  void readerIsNotCalledOnACheckpointWithoutManifest() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    Files.delete(saved[1].directory().resolve("manifest.json"));
    RecordingReader reader = new RecordingReader();

    assertThat(store.latestValid(reader)).isPresent();
    assertThat(reader.steps).containsExactly(10L);
  }

  @Test
  void everyCheckpointDamagedGivesEmptyClosesEveryResultAndReportsEach() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[0].file("model.bin"), 100);
    flipByte(saved[1].file("model.bin"), 3 * MIB - 100);
    RecordingReader reader = new RecordingReader();

    Optional<RecordingResult> result = store.latestValid(reader);

    assertThat(result).isEmpty();
    assertThat(reader.steps).containsExactly(20L, 10L);
    assertThat(reader.results).allSatisfy(r -> assertThat(r.closed).isEqualTo(1));
    assertThat(store.problems())
        .extracting(CheckpointProblem::checkpoint)
        .containsExactly(saved[1].directory(), saved[0].directory());
  }

  @Test
  void emptyStoreGivesEmptyWithoutCallingTheReader() {
    CheckpointStore store = store();
    RecordingReader reader = new RecordingReader();

    assertThat(store.latestValid(reader)).isEmpty();
    assertThat(reader.steps).isEmpty();
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void problemsOfAnEarlierLoadAreClearedByACleanOne() throws IOException {
    CheckpointStore store = store();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 7);
    store.latestValid(new RecordingReader());
    assertThat(store.problems()).hasSize(1);
    flipByte(saved[1].file("model.bin"), 7); // flip back

    assertThat(store.latestValid(new RecordingReader()).orElseThrow().step).isEqualTo(20);
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void readerReturningNullForTheNewestValidCheckpointGivesEmptyWithoutReadingOlderOnes() {
    CheckpointStore store = store();
    saveTwo(store);
    List<Long> steps = new ArrayList<>();

    Optional<Object> result =
        store.latestValid(
            c -> {
              steps.add(c.step());
              return c.step() == 20 ? null : "older";
            });

    assertThat(steps).as("checkpoints read").containsExactly(20L);
    assertThat(result).isEmpty();
    assertThat(store.problems()).isEmpty();
  }

  @Test
  void readerRunsOnTheCallingThreadWhileFactoryThreadsVerifyTheChecksums() {
    CheckpointStore store = store();
    saveTwo(store);
    threads.reset();
    boolean[] verifiedWhileReading = new boolean[1];

    Optional<Thread> readOn =
        store.latestValid(
            c -> {
              try {
                // Returns once a verifying thread has finished; only possible if they run while
                // the reader does.
                verifiedWhileReading[0] = threads.awaitAThreadFinished(30);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return Thread.currentThread();
            });

    assertThat(readOn).contains(Thread.currentThread());
    assertThat(verifiedWhileReading[0]).isTrue();
    assertThat(threads.created()).isNotEmpty().noneMatch(Thread::isAlive);
  }
}
