package dev.kiln.tracking;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Appends one JSON object per metrics record to {@code metrics.jsonl} in the run directory: {@code
 * {"kind":"epoch","step":…,"epoch":…,"time":"…",<metric>:<value>,…}}. NaN and infinities are
 * written as the strings {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"}. Activated by the
 * name {@code jsonl}.
 *
 * <p>Lines are fsynced on every {@link #flush()} (epoch end, checkpoint commit). On resume from
 * step S, lines above S, written by the process that crashed, are removed first, so the file reads
 * as one uninterrupted run.
 */
public final class JsonlTracker implements ExperimentTracker {

  /** The file name inside the run directory. */
  public static final String FILE_NAME = "metrics.jsonl";

  private static final ObjectMapper JSON =
      JsonMapper.builder().disable(SerializationFeature.INDENT_OUTPUT).build();

  private final Path file;
  private FileChannel channel;
  private OutputStream out;

  /** Writes {@code metrics.jsonl} into {@code runDirectory}. */
  public JsonlTracker(Path runDirectory) {
    this.file = runDirectory.resolve(FILE_NAME);
  }

  @Override
  public String name() {
    return "jsonl";
  }

  @Override
  public void runStarted(RunStart start) throws IOException {
    Files.createDirectories(file.getParent());
    if (start.resume().isPresent() && Files.exists(file)) {
      truncateAbove(start.resume().get().step());
    }
    channel =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    out = new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(channel));
  }

  private void truncateAbove(long step) throws IOException {
    List<String> kept = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isBlank()) {
          continue;
        }
        try {
          Map<?, ?> m = JSON.readValue(line, Map.class);
          Object s = m.get("step");
          if (s instanceof Number n && n.longValue() > step) {
            continue;
          }
        } catch (IOException torn) {
          continue; // a line torn by the crash
        }
        kept.add(line);
      }
    }
    Path tmp = file.resolveSibling(FILE_NAME + ".tmp");
    try (FileChannel c =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] bytes =
          (String.join("\n", kept) + (kept.isEmpty() ? "" : "\n")).getBytes(StandardCharsets.UTF_8);
      c.write(java.nio.ByteBuffer.wrap(bytes));
      c.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public void metrics(MetricsRecord record) throws IOException {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("kind", record.kind().name().toLowerCase(java.util.Locale.ROOT));
    line.put("step", record.step());
    line.put("epoch", record.epoch());
    line.put("time", record.time().toString());
    for (Map.Entry<String, Double> e : new TreeMap<>(record.values()).entrySet()) {
      if (e.getKey().equals("epoch")) {
        continue;
      }
      double v = e.getValue();
      line.put(e.getKey(), Double.isFinite(v) ? (Object) v : Double.toString(v));
    }
    line.putAll(record.notes());
    out.write(JSON.writeValueAsBytes(line));
    out.write('\n');
  }

  @Override
  public void flush() throws IOException {
    if (out != null) {
      out.flush();
      channel.force(false);
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
