package dev.kiln.tensorboard;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.TrackerContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Activates the TensorBoard tracker by name: {@code tensorboard} in the trainer's tracker names or
 * in {@code KILN_TRACKERS}. Its settings are read with {@link
 * TensorBoardConfig#fromSettings(TrackerContext)}.
 *
 * <p>The log directory is created and checked here, so that an unwritable one is reported before
 * training starts: "cannot write TensorBoard logs to X: cause — make it writable or set
 * KILN_TENSORBOARD_DIR".
 */
public final class TensorBoardTrackerProvider implements ExperimentTrackerProvider {
  /** {@value}. */
  public static final String NAME = "tensorboard";

  /** Called by {@link java.util.ServiceLoader}. */
  public TensorBoardTrackerProvider() {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public ExperimentTracker create(TrackerContext context) throws IOException {
    TensorBoardConfig config = TensorBoardConfig.fromSettings(context);
    Path dir = config.logDirectoryFor(context.runDirectory());
    try {
      Files.createDirectories(dir);
    } catch (IOException | RuntimeException e) {
      throw TensorBoardTracker.cannotWrite(dir, e);
    }
    if (!Files.isWritable(dir)) {
      throw TensorBoardTracker.cannotWrite(
          dir, new IOException("the directory is not writable by this process"));
    }
    return TensorBoardTracker.create(config, context.clock());
  }
}
