package dev.kiln.examples;

/**
 * The command line or the environment it names is wrong: an unknown flag, a value out of range, a
 * data directory that is not there. The message names the cause and the fix; the program exits with
 * status 2 and has touched nothing.
 */
public final class UsageException extends Exception {
  private static final long serialVersionUID = 1L;

  public UsageException(String message) {
    super(message);
  }

  public UsageException(String message, Throwable cause) {
    super(message, cause);
  }
}
