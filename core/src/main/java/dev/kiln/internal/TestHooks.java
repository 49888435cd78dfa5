package dev.kiln.internal;

/** Switches that let tests prove a guarantee can fail. Not for production use. */
public final class TestHooks {
  private TestHooks() {}

  private static volatile boolean skipOptimizerStateOnResume;

  /** Resume restores weights and position but not the optimizer state. */
  public static void skipOptimizerStateOnResume(boolean skip) {
    skipOptimizerStateOnResume = skip;
  }

  static boolean skipOptimizerStateOnResume() {
    return skipOptimizerStateOnResume;
  }
}
