package dev.kiln.checkpoint;

import java.io.IOException;

/**
 * Reads what a program needs from one checkpoint, for {@link
 * CheckpointStore#latestValid(CheckpointReader)}.
 *
 * <p>For a checkpoint of 64 MiB or more it runs while the store is still verifying the checksums,
 * so it may see damaged bytes. Its result is returned only if they verify; otherwise the result is
 * closed (if it is {@link AutoCloseable}) and the next older checkpoint is read. Smaller
 * checkpoints are verified before the reader runs. A reader that writes into existing state (for
 * example {@link TensorFile#readInto}) should expect to be called again and overwrite everything it
 * wrote before.
 *
 * @param <T> what the reader produces, e.g. a map of tensors
 */
@FunctionalInterface
public interface CheckpointReader<T> {

  /** Reads from {@code checkpoint}; its files are at {@link Checkpoint#file(String)}. */
  T read(Checkpoint checkpoint) throws IOException;
}
