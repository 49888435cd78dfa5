package dev.kiln.tracking;

/**
 * Receives a training run's events: its start, metrics, summaries, histograms and its end.
 *
 * <p>Kiln calls a tracker from one dedicated thread per tracker, never from the training thread,
 * and in this order: {@link #runStarted} once, then any number of {@link #metrics}, {@link
 * #summary}, {@link #histograms} and {@link #flush} calls, at most one {@link #stopRequested} among
 * them, then {@link #runEnded} once, then {@link #close} once. Steps of successive {@code metrics}
 * calls never decrease. Every event is an immutable record of plain values.
 *
 * <p>A tracker may throw or block: Kiln logs the first failure with its cause, counts the rest, and
 * training goes on. A tracker that falls behind has its oldest step-level records dropped (and
 * counted); run start, epoch records, a stop request and run end are never dropped. Implementations
 * need not be thread-safe.
 *
 * <p>Named {@code ExperimentTracker} because DJL's own {@code Tracker} is a learning-rate schedule.
 */
public interface ExperimentTracker extends AutoCloseable {

  /** Short name used in logs and for activation by name, e.g. {@code "console"}. */
  String name();

  /** The run begins (or, when {@link RunStart#resume()} is present, continues). */
  void runStarted(RunStart start) throws Exception;

  /** Metric values recorded at one step. */
  void metrics(MetricsRecord record) throws Exception;

  /** The run's summary so far: latest values and bests. Replaces any earlier summary. */
  default void summary(Summary summary) throws Exception {}

  /** Histograms of parameters or gradients, when the run asked for them. */
  default void histograms(HistogramRecord record) throws Exception {}

  /**
   * Persist what has been buffered. Called at each epoch end and after each checkpoint commit, so
   * that the persisted log never lags the newest checkpoint.
   */
  default void flush() throws Exception {}

  /**
   * Training was asked to stop (a signal, such as a spot instance's preemption notice, or the
   * deadline) and is about to write its final checkpoint. Sent when training notices the request,
   * after the current step (or, at an epoch's end, after its validation), so a tracker can tell its
   * backend before the machine goes away. {@link #runEnded} follows with {@link
   * RunEnd.Outcome#INTERRUPTED}, or {@link RunEnd.Outcome#FAILED} if the final checkpoint fails; a
   * second signal halts the process with neither.
   */
  default void stopRequested(StopRequest request) throws Exception {}

  /** The run ends. Always called once after {@link #runStarted}, whatever happened to training. */
  void runEnded(RunEnd end) throws Exception;

  /** Releases resources. Called once, after {@link #runEnded}. */
  @Override
  default void close() throws Exception {}
}
