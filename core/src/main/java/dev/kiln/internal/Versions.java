package dev.kiln.internal;

/** Kiln's own version, from the jar manifest when packaged. */
final class Versions {
  private Versions() {}

  static String kiln() {
    String v = Versions.class.getPackage().getImplementationVersion();
    return v == null ? "0.1.0-SNAPSHOT" : v;
  }
}
