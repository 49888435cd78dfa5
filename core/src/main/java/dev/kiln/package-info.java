/**
 * Kiln's entry point: {@link dev.kiln.Trainer#fit} with an immutable {@link dev.kiln.TrainerConfig},
 * the {@link dev.kiln.CheckpointPolicy} and {@link dev.kiln.Resume} it takes, and the {@link
 * dev.kiln.FitResult} it returns.
 */
package dev.kiln;
