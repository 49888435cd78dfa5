package dev.kiln;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/** Whether {@link Trainer#fit} starts a new run or continues one from a checkpoint. */
public final class Resume {

  /** The kinds of resume. */
  public enum Mode {
    /** Always a new run; a run directory that already holds checkpoints is refused. */
    NEVER,
    /** The newest valid checkpoint in the run directory, or a new run when there is none. */
    LATEST,
    /** A given checkpoint directory; it must be valid. */
    FROM
  }

  private static final Resume NEVER = new Resume(Mode.NEVER, null);
  private static final Resume LATEST = new Resume(Mode.LATEST, null);

  private final Mode mode;
  private final Path checkpoint;

  private Resume(Mode mode, Path checkpoint) {
    this.mode = mode;
    this.checkpoint = checkpoint;
  }

  /** Start a new run. */
  public static Resume never() {
    return NEVER;
  }

  /** Continue from the newest valid checkpoint in the run directory; start fresh if none. */
  public static Resume latest() {
    return LATEST;
  }

  /** Continue from this checkpoint directory. */
  public static Resume from(Path checkpoint) {
    return new Resume(Mode.FROM, Objects.requireNonNull(checkpoint, "checkpoint"));
  }

  public Mode mode() {
    return mode;
  }

  /** The checkpoint, for {@link Mode#FROM}. */
  public Optional<Path> checkpoint() {
    return Optional.ofNullable(checkpoint);
  }

  @Override
  public String toString() {
    return mode == Mode.FROM
        ? "from " + checkpoint
        : mode.name().toLowerCase(java.util.Locale.ROOT);
  }
}
