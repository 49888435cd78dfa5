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

  private static volatile CheckpointMirror.Copier mirrorCopier;

  /** The copier the mirror uses (null = the standard one), e.g. a slow or blocked one. */
  public static void mirrorCopier(CheckpointMirror.Copier copier) {
    mirrorCopier = copier;
  }

  static CheckpointMirror.Copier mirrorCopier() {
    CheckpointMirror.Copier c = mirrorCopier;
    return c == null ? CheckpointMirror.Copier.standard() : c;
  }
}
