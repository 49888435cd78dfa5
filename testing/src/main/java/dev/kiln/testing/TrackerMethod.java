package dev.kiln.testing;

/**
 * The calls Kiln makes on an {@link dev.kiln.tracking.ExperimentTracker}, in the order of a run.
 * Names what a {@link RecordingTracker} recorded and where a {@link ThrowingTracker} throws or a
 * {@link BlockingTracker} blocks.
 */
public enum TrackerMethod {
  /** {@code runStarted(RunStart)}. */
  RUN_STARTED("runStarted"),
  /** {@code metrics(MetricsRecord)}. */
  METRICS("metrics"),
  /** {@code summary(Summary)}. */
  SUMMARY("summary"),
  /** {@code histograms(HistogramRecord)}. */
  HISTOGRAMS("histograms"),
  /** {@code flush()}. */
  FLUSH("flush"),
  /** {@code stopRequested(StopRequest)}. */
  STOP_REQUESTED("stopRequested"),
  /** {@code runEnded(RunEnd)}. */
  RUN_ENDED("runEnded"),
  /** {@code close()}. */
  CLOSE("close");

  private final String methodName;

  TrackerMethod(String methodName) {
    this.methodName = methodName;
  }

  /** The Java method's name, e.g. {@code "runStarted"}. */
  public String methodName() {
    return methodName;
  }
}
