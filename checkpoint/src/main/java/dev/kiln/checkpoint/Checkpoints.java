package dev.kiln.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One-call save and load of named tensors plus JSON metadata, for programs that want only {@code
 * save_checkpoint}/{@code load_checkpoint}. Uses a {@link CheckpointStore} with default settings
 * (keep the last 3), so saves are atomic and loads verified.
 *
 * <pre>{@code
 * Checkpoints.save(dir, Map.of("fc.weight", w), Map.of("epoch", 3));
 * Optional<LoadedCheckpoint> last = Checkpoints.loadLatest(dir, manager);
 * }</pre>
 */
public final class Checkpoints {

  /** The file holding the tensors inside each checkpoint directory. */
  public static final String TENSORS_FILE = "tensors.ndlist";

  private Checkpoints() {}

  /**
   * Saves a checkpoint numbered one past the highest step in {@code dir} (the first is step 1),
   * epoch 0.
   *
   * @throws CheckpointException if saving fails; earlier checkpoints stay intact
   */
  public static Checkpoint save(Path dir, Map<String, NDArray> tensors, Map<String, ?> metadata) {
    CheckpointStore store = CheckpointStore.builder(dir).build();
    List<Checkpoint> existing = store.list();
    long step = existing.isEmpty() ? 1 : existing.get(existing.size() - 1).step() + 1;
    return save(store, 0, step, tensors, metadata);
  }

  /**
   * Saves a checkpoint for {@code epoch} and {@code step}.
   *
   * @throws CheckpointException if saving fails; earlier checkpoints stay intact
   */
  public static Checkpoint save(
      Path dir, int epoch, long step, Map<String, NDArray> tensors, Map<String, ?> metadata) {
    return save(CheckpointStore.builder(dir).build(), epoch, step, tensors, metadata);
  }

  private static Checkpoint save(
      CheckpointStore store,
      int epoch,
      long step,
      Map<String, NDArray> tensors,
      Map<String, ?> metadata) {
    CheckpointRequest request = CheckpointRequest.builder(epoch, step).metadata(metadata).build();
    return store.save(
        request, directory -> TensorFile.write(directory.resolve(TENSORS_FILE), tensors));
  }

  /**
   * Loads the newest checkpoint in {@code dir} that verifies; invalid newer ones are skipped and
   * logged at WARN.
   *
   * @return empty if {@code dir} does not exist or holds no valid checkpoint
   * @throws CheckpointException if the newest valid checkpoint was not written by {@link #save} or
   *     its tensors cannot be read
   */
  public static Optional<LoadedCheckpoint> loadLatest(Path dir, NDManager manager) {
    if (!Files.isDirectory(dir)) {
      return Optional.empty();
    }
    return CheckpointStore.builder(dir)
        .build()
        .latestValid(
            checkpoint -> {
              if (!checkpoint.files().containsKey(TENSORS_FILE)) {
                throw new CheckpointException(
                    "Checkpoint "
                        + checkpoint.directory()
                        + " has no "
                        + TENSORS_FILE
                        + "; it was not written by Checkpoints.save — read it with CheckpointStore"
                        + " instead");
              }
              return new LoadedCheckpoint(
                  checkpoint, TensorFile.read(checkpoint.file(TENSORS_FILE), manager));
            });
  }
}
