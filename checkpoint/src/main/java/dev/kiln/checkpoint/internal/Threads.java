package dev.kiln.checkpoint.internal;

/** Waiting for the store's helper threads. */
public final class Threads {

  private Threads() {}

  /**
   * Waits for {@code thread} (if not null) to end, even if interrupted: its work is bounded and
   * must finish before its results or files are used. The interrupt flag is restored afterwards.
   */
  public static void joinUninterruptibly(Thread thread) {
    if (thread == null) {
      return;
    }
    boolean interrupted = false;
    while (true) {
      try {
        thread.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Waits up to {@code millis} for {@code thread} (if not null) to end, even if interrupted; for a
   * thread whose task has returned, which a factory's wrapper may outlive. The interrupt flag is
   * restored afterwards.
   */
  public static void joinUninterruptibly(Thread thread, long millis) {
    if (thread == null) {
      return;
    }
    long deadline = System.nanoTime() + millis * 1_000_000L;
    boolean interrupted = false;
    while (thread.isAlive()) {
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        break;
      }
      try {
        thread.join(left);
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
