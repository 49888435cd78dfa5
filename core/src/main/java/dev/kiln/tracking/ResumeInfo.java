package dev.kiln.tracking;

/**
 * Where a resumed run continues from.
 *
 * @param step the global step of the checkpoint; the run's next metrics have steps above it.
 *     Anything a tracker recorded above this step belongs to the lost process and should be
 *     discarded (TensorBoard's purge, W&amp;B's skip of delivered steps).
 * @param epoch the number of completed epochs in the checkpoint
 * @param checkpoint the checkpoint's name, for reports
 */
public record ResumeInfo(long step, int epoch, String checkpoint) {}
