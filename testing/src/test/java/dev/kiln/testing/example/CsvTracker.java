package dev.kiln.testing.example;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;

/**
 * A small tracker as a plugin author would write it: one CSV line per metric value, appended to
 * {@code metrics.csv} in the run directory. Used to show that the contract kit works from another
 * package.
 */
final class CsvTracker implements ExperimentTracker {
  private final Path file;
  private BufferedWriter out;

  CsvTracker(Path file) {
    this.file = file;
  }

  @Override
  public String name() {
    return "csv";
  }

  @Override
  public void runStarted(RunStart start) throws IOException {
    out =
        Files.newBufferedWriter(
            file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    start.resume().ifPresent(r -> write("# resumed at step " + r.step()));
  }

  @Override
  public void metrics(MetricsRecord record) {
    for (Map.Entry<String, Double> e : new TreeMap<>(record.values()).entrySet()) {
      write(record.step() + "," + e.getKey() + "," + e.getValue());
    }
  }

  @Override
  public void flush() throws IOException {
    out.flush();
  }

  @Override
  public void runEnded(RunEnd end) {
    write("# " + end.outcome());
  }

  @Override
  public void close() throws IOException {
    if (out != null) {
      out.close();
      out = null;
    }
  }

  private void write(String line) {
    try {
      out.write(line);
      out.newLine();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
