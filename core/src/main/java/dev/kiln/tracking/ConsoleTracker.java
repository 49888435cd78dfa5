package dev.kiln.tracking;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Prints each epoch as the course notes' script does ({@code Elapsed time is …}) plus the metrics,
 * the time split and the bottleneck verdict. Activated by the name {@code console}.
 */
public final class ConsoleTracker implements ExperimentTracker {

  private final PrintStream out;

  /** Prints to {@code System.out}. */
  public ConsoleTracker() {
    this(System.out);
  }

  /** Prints to {@code out}. */
  public ConsoleTracker(PrintStream out) {
    this.out = Objects.requireNonNull(out, "out");
  }

  @Override
  public String name() {
    return "console";
  }

  @Override
  public void runStarted(RunStart start) {
    out.println(
        start.resume().isPresent()
            ? String.format(
                "Resuming run %s (%s) after epoch %d, step %d, from %s",
                start.runName(),
                start.runId(),
                start.resume().get().epoch(),
                start.resume().get().step(),
                start.resume().get().checkpoint())
            : String.format(
                "Run %s (%s) in %s", start.runName(), start.runId(), start.runDirectory()));
    out.println("Devices: " + start.devices().describe());
  }

  @Override
  public void metrics(MetricsRecord record) {
    if (record.kind() != MetricsRecord.Kind.EPOCH) {
      return;
    }
    Map<String, Double> v = new TreeMap<>(record.values());
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "Epoch %d (step %d):", record.epoch(), record.step()));
    for (Map.Entry<String, Double> e : v.entrySet()) {
      String k = e.getKey();
      if (k.startsWith("time_") || k.equals("epoch") || k.equals("samples_per_sec")) {
        continue;
      }
      sb.append(' ').append(k).append(' ').append(format(e.getValue()));
    }
    out.println(sb);
    out.println(
        String.format(
            Locale.ROOT,
            "Elapsed time is %.2f s (data wait %.2f s, compute %.2f s; %.0f samples/s);"
                + " validation %.2f s, tracking %.3f s, checkpoint %.2f s",
            v.getOrDefault("time_taken", Double.NaN),
            v.getOrDefault("time_data", Double.NaN),
            v.getOrDefault("time_compute", Double.NaN),
            v.getOrDefault("samples_per_sec", Double.NaN),
            v.getOrDefault("time_validation", Double.NaN),
            v.getOrDefault("time_tracking", Double.NaN),
            v.getOrDefault("time_checkpoint", Double.NaN)));
    String verdict = record.notes().get("verdict");
    if (verdict != null) {
      out.println("Bottleneck: " + verdict);
    }
    out.flush();
  }

  @Override
  public void runEnded(RunEnd end) {
    out.println(
        "Run "
            + end.outcome().name().toLowerCase(Locale.ROOT)
            + " after epoch "
            + end.epoch()
            + ", step "
            + end.step()
            + end.failure().map(f -> ": " + f).orElse(""));
    out.flush();
  }

  private static String format(double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return Double.toString(value);
    }
    double abs = Math.abs(value);
    return abs != 0 && (abs < 1e-3 || abs >= 1e6)
        ? String.format(Locale.ROOT, "%.4e", value)
        : String.format(Locale.ROOT, "%.4f", value);
  }
}
