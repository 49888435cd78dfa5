package dev.kiln.examples;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A tracker plugin in a few lines: appends each metric as a row {@code step,epoch,kind,name,value}
 * to {@code metrics.csv} in the run directory. On resume it drops the rows the lost process wrote
 * after the checkpoint, so the file reads as one run. Activated by {@code --trackers csv} through
 * {@link CsvTrackerProvider}.
 */
public final class CsvTracker implements ExperimentTracker {
  static final String HEADER = "step,epoch,kind,name,value";

  private final Path file;
  private BufferedWriter out;

  public CsvTracker(Path file) {
    this.file = file;
  }

  @Override
  public String name() {
    return "csv";
  }

  @Override
  public void runStarted(RunStart start) throws IOException {
    if (start.resume().isPresent() && Files.exists(file)) {
      long step = start.resume().get().step();
      List<String> kept =
          Files.readAllLines(file).stream()
              .filter(l -> l.equals(HEADER) || kept(l, step))
              .collect(Collectors.toList());
      Files.write(file, kept); // a crash here loses only rows that can be recomputed
    }
    boolean fresh = !Files.exists(file) || Files.size(file) == 0;
    out = Files.newBufferedWriter(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    if (fresh) {
      out.write(HEADER + "\n");
    }
  }

  private static boolean kept(String row, long resumeStep) {
    String[] f = row.split(",");
    return f.length == 5 && f[0].matches("\\d+") && Long.parseLong(f[0]) <= resumeStep;
  }

  @Override
  public void metrics(MetricsRecord r) throws IOException {
    String kind = r.kind().name().toLowerCase(java.util.Locale.ROOT);
    for (Map.Entry<String, Double> e : new TreeMap<>(r.values()).entrySet()) {
      out.write(
          r.step() + "," + r.epoch() + "," + kind + "," + e.getKey() + "," + e.getValue() + "\n");
    }
  }

  @Override
  public void flush() throws IOException {
    if (out != null) {
      out.flush();
    }
  }

  @Override
  public void runEnded(RunEnd end) throws IOException {
    flush();
  }

  @Override
  public void close() throws IOException {
    if (out != null) {
      out.close();
      out = null;
    }
  }
}
