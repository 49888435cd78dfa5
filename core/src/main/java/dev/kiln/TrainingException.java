package dev.kiln;

/**
 * Training cannot go on: a non-finite loss, data that does not fit the model, a checkpoint that
 * cannot be written or read. The message names the cause and the fix; nothing already saved has
 * been touched.
 */
public class TrainingException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TrainingException(String message) {
    super(message);
  }

  public TrainingException(String message, Throwable cause) {
    super(message, cause);
  }
}
