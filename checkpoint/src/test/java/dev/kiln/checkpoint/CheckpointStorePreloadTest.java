package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small checkpoint is read into memory once, verified there, and its reader parses those same
 * bytes: what was checked is what is loaded.
 */
class CheckpointStorePreloadTest {

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

  private CheckpointStore store() {
    return CheckpointStore.builder(dir).clock(CLOCK).build();
  }

  /** 1,000 floats 0..999 under "w": 4,000 bytes of data at the end of the file. */
  private Checkpoint saveCounting(CheckpointStore store) {
    Map<String, NDArray> tensors = Map.of("w", manager.arange(0f, 1000f));
    return store.save(
        CheckpointRequest.of(1, 10), d -> TensorFile.write(d.resolve("model.ndlist"), tensors));
  }

  /** Overwrites the last float of "w" on disk (its data ends the file) with 12345f. */
  private static void changeLastValueOnDisk(Path file) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.seek(raf.length() - 4);
      int bits = Float.floatToIntBits(12345f);
      // NDList data is in native (little-endian) order.
      raf.write(
          new byte[] {(byte) bits, (byte) (bits >> 8), (byte) (bits >> 16), (byte) (bits >> 24)});
    }
  }

  @Test
  void theReaderParsesTheVerifiedBytesEvenIfTheFileChangesOnDiskBeforeItReads() throws IOException {
    CheckpointStore store = store();
    saveCounting(store);

    Optional<float[]> read =
        store.latestValid(
            c -> {
              changeLastValueOnDisk(c.file("model.ndlist"));
              try (NDManager scope = manager.newSubManager()) {
                return TensorFile.read(c.file("model.ndlist"), scope).get("w").toFloatArray();
              }
            });

    assertThat(read).isPresent();
    assertThat(read.get()).hasSize(1000);
    assertThat(read.get()[999]).isEqualTo(999f);
  }

  @Test
  void readIntoInTheReaderFillsTheTargetsFromTheVerifiedBytes() throws IOException {
    CheckpointStore store = store();
    saveCounting(store);
    NDArray target = manager.zeros(new ai.djl.ndarray.types.Shape(1000));

    store.latestValid(
        c -> {
          changeLastValueOnDisk(c.file("model.ndlist"));
          TensorFile.readInto(c.file("model.ndlist"), Map.of("w", target));
          return c;
        });

    float[] values = target.toFloatArray();
    assertThat(values[0]).isEqualTo(0f);
    assertThat(values[500]).isEqualTo(500f);
    assertThat(values[999]).isEqualTo(999f);
  }

  @Test
  void afterTheReaderReturnsTensorFileReadsTheFileOnDiskAgain() throws IOException {
    CheckpointStore store = store();
    Checkpoint saved = saveCounting(store);
    store.latestValid(c -> c).orElseThrow();
    changeLastValueOnDisk(saved.file("model.ndlist"));

    Map<String, NDArray> read = TensorFile.read(saved.file("model.ndlist"), manager);

    assertThat(read.get("w").toFloatArray()[999]).isEqualTo(12345f);
  }

  @Test
  void aThreadTheReaderStartsReadsTheFileOnDisk() throws Exception {
    CheckpointStore store = store();
    saveCounting(store);
    AtomicReference<Float> seenByOtherThread = new AtomicReference<>();

    store.latestValid(
        c -> {
          changeLastValueOnDisk(c.file("model.ndlist"));
          Thread other =
              new Thread(
                  () -> {
                    try (NDManager scope = manager.newSubManager()) {
                      seenByOtherThread.set(
                          TensorFile.read(c.file("model.ndlist"), scope)
                              .get("w")
                              .toFloatArray()[999]);
                    } catch (IOException e) {
                      throw new IllegalStateException(e);
                    }
                  });
          other.start();
          try {
            other.join();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          return c;
        });

    assertThat(seenByOtherThread.get()).isEqualTo(12345f);
  }

  @Test
  void aCheckpointOver16MibIsReadFromDiskByItsReader() throws IOException {
    CheckpointStore store = store();
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("big", manager.zeros(new ai.djl.ndarray.types.Shape(17 << 18))); // 17 MiB
    tensors.put("w", manager.arange(0f, 1000f));
    store.save(
        CheckpointRequest.of(1, 10), d -> TensorFile.write(d.resolve("model.ndlist"), tensors));

    Optional<Float> last =
        store.latestValid(
            c -> {
              changeLastValueOnDisk(c.file("model.ndlist"));
              try (NDManager scope = manager.newSubManager()) {
                return TensorFile.read(c.file("model.ndlist"), scope).get("w").toFloatArray()[999];
              }
            });

    // Verified first, then read: a change in between is not seen by the store.
    assertThat(last).contains(12345f);
  }

  @Test
  void aSmallCheckpointIsReadAndCheckedOnTheCallingThreadWhenItIsNotInterrupted() {
    RecordingThreadFactory threads = new RecordingThreadFactory();
    CheckpointStore store =
        CheckpointStore.builder(dir).clock(CLOCK).threadFactory(threads).build();
    saveCounting(store);
    threads.reset();

    Optional<float[]> read =
        store.latestValid(
            c -> {
              try (NDManager scope = manager.newSubManager()) {
                return TensorFile.read(c.file("model.ndlist"), scope).get("w").toFloatArray();
              }
            });

    assertThat(read).isPresent();
    assertThat(read.get()[999]).isEqualTo(999f);
    assertThat(threads.created()).isEmpty();
  }

  @Test
  void anInterruptedCallerStillLoadsTheVerifiedBytesOfASmallCheckpointAndKeepsItsFlag() {
    RecordingThreadFactory threads = new RecordingThreadFactory();
    CheckpointStore store =
        CheckpointStore.builder(dir).clock(CLOCK).threadFactory(threads).build();
    saveCounting(store);
    threads.reset();
    Optional<Float> last;
    boolean stillInterrupted;

    // An interrupt closes a channel its thread reads: the read moves to a factory thread instead
    // of making intact files look damaged.
    Thread.currentThread().interrupt();
    try {
      last =
          store.latestValid(
              c -> {
                changeLastValueOnDisk(c.file("model.ndlist"));
                try (NDManager scope = manager.newSubManager()) {
                  return TensorFile.read(c.file("model.ndlist"), scope)
                      .get("w")
                      .toFloatArray()[999];
                }
              });
    } finally {
      stillInterrupted = Thread.interrupted();
    }

    assertThat(stillInterrupted).isTrue();
    assertThat(last).contains(999f);
    assertThat(store.problems()).isEmpty();
    assertThat(threads.created()).hasSize(1).noneMatch(Thread::isAlive);
  }

  @Test
  void aDamagedSmallCheckpointIsNeverHandedToTheReader() throws IOException {
    CheckpointStore store = store();
    Checkpoint older = saveCounting(store);
    Map<String, NDArray> newerTensors = Map.of("w", manager.arange(1000f, 2000f));
    Checkpoint newer =
        store.save(
            CheckpointRequest.of(2, 20),
            d -> TensorFile.write(d.resolve("model.ndlist"), newerTensors));
    changeLastValueOnDisk(newer.file("model.ndlist"));

    Optional<Long> step = store.latestValid(Checkpoint::step);

    assertThat(step).contains(older.step());
    assertThat(store.problems())
        .singleElement()
        .satisfies(p -> assertThat(p.detail()).startsWith("CRC32C of bytes "));
  }
}
