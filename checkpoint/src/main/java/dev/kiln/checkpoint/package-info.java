/**
 * Crash-safe checkpoints: {@link dev.kiln.checkpoint.CheckpointStore} saves atomically (temp
 * directory, fsync, manifest with checksums per file, atomic rename) and loads the newest
 * checkpoint that verifies, falling back past damaged ones. {@link dev.kiln.checkpoint.TensorFile}
 * stores named tensors; {@link dev.kiln.checkpoint.Checkpoints} is the one-call API.
 */
package dev.kiln.checkpoint;
