package dev.kiln.checkpoint;

import java.util.List;

/**
 * A checkpoint could not be saved, read or verified. The message names the path, the cause and what
 * to do about it; {@link #problems()} lists what verification found, if that is why it was thrown.
 */
public class CheckpointException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final transient List<CheckpointProblem> problems;

  public CheckpointException(String message) {
    this(message, null, List.of());
  }

  public CheckpointException(String message, Throwable cause) {
    this(message, cause, List.of());
  }

  public CheckpointException(String message, Throwable cause, List<CheckpointProblem> problems) {
    super(message, cause);
    this.problems = List.copyOf(problems);
  }

  /**
   * The verification problems behind this exception; empty if it was not thrown by verification.
   */
  public List<CheckpointProblem> problems() {
    return problems == null ? List.of() : problems;
  }
}
