package dev.kiln;

import dev.kiln.tracking.RunEnd;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@link Trainer#fit} did.
 *
 * @param runId the run's stable id
 * @param runDirectory where its files are
 * @param outcome finished, or interrupted by a signal or deadline after a final checkpoint
 * @param epochs per-epoch metrics of the epochs trained in this process, oldest first
 * @param step the last global step
 * @param lastCheckpoint the newest checkpoint committed, if any
 * @param trackerFailures failures per tracker (0 for those that never failed)
 * @param trackerDrops step records dropped per tracker because it fell behind
 */
public record FitResult(
    String runId,
    Path runDirectory,
    RunEnd.Outcome outcome,
    List<EpochResult> epochs,
    long step,
    Optional<Path> lastCheckpoint,
    Map<String, Long> trackerFailures,
    Map<String, Long> trackerDrops) {

  public FitResult {
    epochs = List.copyOf(epochs);
    trackerFailures = Map.copyOf(trackerFailures);
    trackerDrops = Map.copyOf(trackerDrops);
  }

  /** The last epoch's result, if any epoch ran in this process. */
  public Optional<EpochResult> last() {
    return epochs.isEmpty() ? Optional.empty() : Optional.of(epochs.get(epochs.size() - 1));
  }
}
