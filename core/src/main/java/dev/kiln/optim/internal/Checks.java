package dev.kiln.optim.internal;

/** Argument checks whose messages name the field and the rejected value. */
public final class Checks {

  private Checks() {}

  /** Requires {@code value >= 0} and finite. */
  public static double nonNegative(String field, double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(field + " must be finite and >= 0: " + value);
    }
    return value;
  }

  /** Requires {@code value > 0} and finite. */
  public static double positive(String field, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(field + " must be finite and > 0: " + value);
    }
    return value;
  }

  /** Requires {@code 0 <= value < 1}. */
  public static double unitInterval(String field, double value) {
    if (!(value >= 0 && value < 1)) {
      throw new IllegalArgumentException(field + " must be in [0, 1): " + value);
    }
    return value;
  }

  /** Requires {@code 0 <= value <= 1}. */
  public static double closedUnitInterval(String field, double value) {
    if (!(value >= 0 && value <= 1)) {
      throw new IllegalArgumentException(field + " must be in [0, 1]: " + value);
    }
    return value;
  }

  /** Requires {@code value >= 0}. */
  public static long nonNegative(String field, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(field + " must be >= 0: " + value);
    }
    return value;
  }

  /** Requires {@code value > 0}. */
  public static long positive(String field, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be > 0: " + value);
    }
    return value;
  }
}
