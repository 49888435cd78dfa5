/**
 * A Kiln {@link dev.kiln.tracking.ExperimentTracker} that logs runs to Weights &amp; Biases (or a
 * compatible self-hosted server) without blocking training and without losing data.
 *
 * <p>Activate it with {@code KILN_TRACKERS=wandb}. Every event is first appended to a local spool
 * under {@code <run dir>/wandb/}; a background sender uploads it with the official client's wire
 * protocol (GraphQL {@code UpsertBucket} plus {@code file_stream}). Configure it with the official
 * {@code WANDB_*} environment variables or with {@link dev.kiln.wandb.WandbConfig#builder()};
 * upload an offline or interrupted run later with {@link dev.kiln.wandb.Sync}.
 */
package dev.kiln.wandb;
