package dev.kiln;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Records what core sends, for core's own tests (kiln-testing depends on core, not the reverse).
 */
final class RecordingTracker implements ExperimentTracker {
  final List<RunStart> starts = new CopyOnWriteArrayList<>();
  final List<MetricsRecord> metrics = new CopyOnWriteArrayList<>();
  final List<RunEnd> ends = new CopyOnWriteArrayList<>();
  final List<dev.kiln.tracking.HistogramRecord> histograms = new CopyOnWriteArrayList<>();
  final List<dev.kiln.tracking.StopRequest> stops = new CopyOnWriteArrayList<>();

  /** Names of the calls, in order, for flush, stopRequested and runEnded. */
  final List<String> calls = new CopyOnWriteArrayList<>();

  @Override
  public String name() {
    return "recording";
  }

  @Override
  public void runStarted(RunStart start) {
    starts.add(start);
  }

  @Override
  public void metrics(MetricsRecord record) {
    metrics.add(record);
  }

  @Override
  public void histograms(dev.kiln.tracking.HistogramRecord record) {
    histograms.add(record);
  }

  @Override
  public void runEnded(RunEnd end) {
    ends.add(end);
    calls.add("runEnded");
  }

  @Override
  public void flush() {
    calls.add("flush");
  }

  @Override
  public void stopRequested(dev.kiln.tracking.StopRequest request) {
    stops.add(request);
    calls.add("stopRequested");
  }
}
