package dev.kiln.checkpoint;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import java.util.Objects;

/**
 * A verified checkpoint and its tensors, as returned by {@link Checkpoints#loadLatest}.
 *
 * @param checkpoint the checkpoint the tensors came from
 * @param tensors the tensors by name, owned by the manager passed to {@code loadLatest}
 */
public record LoadedCheckpoint(Checkpoint checkpoint, Map<String, NDArray> tensors)
    implements AutoCloseable {

  public LoadedCheckpoint {
    Objects.requireNonNull(checkpoint, "checkpoint == null");
    tensors = Map.copyOf(tensors);
  }

  /** The metadata saved with the tensors. */
  public Map<String, Object> metadata() {
    return checkpoint.metadata();
  }

  /** Closes the tensors (they are also closed with their manager). */
  @Override
  public void close() {
    tensors.values().forEach(NDArray::close);
  }
}
