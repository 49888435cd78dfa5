package dev.kiln;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.training.dataset.RandomAccessDataset;
import dev.kiln.internal.TrainingLoop;
import java.util.Objects;

/**
 * Trains a DJL model: picks devices, runs the epoch loop with background data loading, validates,
 * schedules the learning rate, reports to trackers, writes crash-safe checkpoints, and resumes
 * exactly from them.
 *
 * <pre>{@code
 * TrainerConfig config = TrainerConfig.builder(Loss.softmaxCrossEntropyLoss(),
 *         Adadelta.builder().learningRate(1.0).build())
 *     .schedule(LrSchedules.step(1, 0.7))
 *     .epochs(14).batchSize(64).seed(1)
 *     .resume(Resume.latest())
 *     .build();
 * FitResult result = Trainer.fit(model, trainSet, testSet, config);
 * }</pre>
 */
public final class Trainer {
  private Trainer() {}

  /**
   * Trains {@code model}'s block on {@code train}, validating on {@code validation} after each
   * epoch. Blocks until the run finishes, or is interrupted by SIGTERM/SIGINT or the deadline
   * (after a final checkpoint).
   *
   * @throws IllegalArgumentException for bad input found before training (empty dataset, unknown
   *     device or tracker, a run directory holding another run's checkpoints)
   * @throws TrainingException when training cannot go on; the run directory keeps every checkpoint
   *     committed before
   */
  public static FitResult fit(
      Model model,
      RandomAccessDataset train,
      RandomAccessDataset validation,
      TrainerConfig config) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(validation, "validation");
    Objects.requireNonNull(config, "config");
    if (model.getBlock() == null) {
      throw new IllegalArgumentException("model has no block: call model.setBlock(...) first");
    }
    return new TrainingLoop(model, train, validation, config).run();
  }

  /**
   * Like {@link #fit(Model, RandomAccessDataset, RandomAccessDataset, TrainerConfig)} for a bare
   * block. The block's parameters are created in a model Kiln opens and leaves open, so the block
   * stays usable after training; use the {@code Model} overload to decide when that memory is
   * freed.
   */
  public static FitResult fit(
      Block block,
      RandomAccessDataset train,
      RandomAccessDataset validation,
      TrainerConfig config) {
    Objects.requireNonNull(block, "block");
    Model model = Model.newInstance("kiln-model");
    model.setBlock(block);
    return fit(model, train, validation, config);
  }
}
