/**
 * Optimizers whose state a checkpoint can save and restore exactly, learning-rate schedules, and
 * gradient clipping.
 *
 * <p>{@link dev.kiln.optim.Sgd}, {@link dev.kiln.optim.Adam}, {@link dev.kiln.optim.AdamW} and
 * {@link dev.kiln.optim.Adadelta} follow {@code torch.optim}'s update rules and defaults. Their
 * hyper-parameters are immutable; {@link dev.kiln.optim.Optimizer#newState()} gives the mutable
 * {@link dev.kiln.optim.OptimizerState} of one run, keyed by parameter path. Those states are also
 * {@link java.lang.AutoCloseable}: close one to free its tensors early.
 *
 * <pre>{@code
 * Optimizer adam = Adam.builder().learningRate(1e-3).build();
 * LrSchedule schedule = LrSchedules.linearWarmup(2, LrSchedules.cosine(48, 0));
 * OptimizerState state = adam.newState();
 * // per step, after the backward pass:
 * GradientClipping.clipByGlobalNorm(gradients.values(), 1.0);
 * state.step(parameters, gradients, schedule.learningRate(adam.learningRate(), epoch));
 * }</pre>
 *
 * <p>Schedules are built by the static factories of {@link dev.kiln.optim.LrSchedules}.
 */
package dev.kiln.optim;
