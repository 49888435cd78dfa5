package dev.kiln.optim;

import java.util.Map;

/**
 * A learning-rate schedule: a pure function of position, so a resumed run continues it exactly from
 * the saved epoch and step.
 *
 * <p>The position {@code t} is the number of completed epochs when the trainer steps the schedule
 * per epoch (PyTorch's {@code scheduler.step()} after each epoch), or the number of completed
 * optimizer steps when it steps per step.
 */
public interface LrSchedule {

  /** The learning rate at position {@code t}, given the optimizer's base rate. */
  double learningRate(double baseLearningRate, long t);

  /** The schedule's settings as plain values, {@code name} included. */
  Map<String, Object> describe();
}
