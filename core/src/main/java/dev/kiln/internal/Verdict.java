package dev.kiln.internal;

import java.util.Locale;

/** The one-line bottleneck verdict of an epoch, from its measured time split. */
public final class Verdict {
  private Verdict() {}

  /** Data wait above this share of the training time makes an epoch input-bound. */
  static final double INPUT_BOUND = 0.20;

  /**
   * Judges an epoch. All times in seconds.
   *
   * @param training training wall time (data wait + compute + overhead)
   * @param dataWait time the training thread waited for batches
   * @param validation validation time
   * @param tracking time the training thread spent handing events to trackers
   * @param checkpoint time the training thread spent on checkpoints
   * @param workers the configured worker count
   */
  public static String judge(
      double training,
      double dataWait,
      double validation,
      double tracking,
      double checkpoint,
      int workers) {
    double total = training + validation + tracking + checkpoint;
    if (total <= 0) {
      return "idle: nothing was measured";
    }
    double data = training > 0 ? dataWait / training : 0;
    if (data >= INPUT_BOUND) {
      String fix =
          workers == 0
              ? "turn on background loading (workers 1 or more)"
              : "raise workers (now " + workers + ") or make the dataset's get() cheaper";
      return String.format(
          Locale.ROOT, "input-bound: %.0f%% of training waiting for data — %s", 100 * data, fix);
    }
    if (checkpoint / total >= 0.20) {
      return String.format(
          Locale.ROOT,
          "checkpoint-bound: %.0f%% of the epoch saving — checkpoint less often or to faster disk",
          100 * checkpoint / total);
    }
    if (tracking / total >= 0.10) {
      return String.format(
          Locale.ROOT,
          "tracker-bound: %.0f%% of the epoch handing events to trackers — log steps less often",
          100 * tracking / total);
    }
    if (validation / total >= 0.40) {
      return String.format(
          Locale.ROOT,
          "validation-bound: %.0f%% of the epoch validating — raise the validation batch size or"
              + " validate on a subset",
          100 * validation / total);
    }
    return String.format(
        Locale.ROOT,
        "compute-bound: %.0f%% of training computing, %.0f%% waiting for data — the model is the"
            + " limit; more workers will not help",
        100 * (training - dataWait) / training,
        100 * data);
  }
}
