/**
 * TensorBoard event files for Kiln runs.
 *
 * <p>Most users only name the tracker: {@code KILN_TRACKERS=tensorboard} or the trainer's tracker
 * names, then run {@code tensorboard --logdir runs/}. To configure it in code, use {@link
 * dev.kiln.tensorboard.TensorBoardTracker#create(TensorBoardConfig)} with a {@link
 * dev.kiln.tensorboard.TensorBoardConfig}. Everything in {@code dev.kiln.tensorboard.internal} may
 * change without notice.
 */
package dev.kiln.tensorboard;
