package dev.kiln.optim;

import java.util.Map;

/**
 * An optimizer's hyper-parameters: immutable, shareable, and the factory of the mutable {@link
 * OptimizerState} one run updates.
 *
 * <p>Unlike DJL's optimizers, Kiln's keep their state (moments, update counts) readable and
 * writable, keyed by stable parameter paths, so a checkpoint restores it exactly.
 */
public interface Optimizer {

  /** Short name, e.g. {@code "adam"}. */
  String name();

  /** The base learning rate, which an {@link LrSchedule} scales over time. */
  double learningRate();

  /** All hyper-parameters as plain values, {@code name} included, for configs and trackers. */
  Map<String, Object> hyperParameters();

  /** A fresh state, as at the first step of a run. */
  OptimizerState newState();
}
