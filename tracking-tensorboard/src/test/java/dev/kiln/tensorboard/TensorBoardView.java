package dev.kiln.tensorboard;

import static dev.kiln.tensorboard.TensorBoardProtos.get;
import static dev.kiln.tensorboard.TensorBoardProtos.has;

import com.google.protobuf.ByteString;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * What TensorBoard would show for one run directory, by its loader's rules (tensorboard-format.md
 * §1, §4, §7): event files in name order, each read up to its first bad record; the file_version
 * decides the purge rule (with version 2, the first {@code SessionLog START} is a no-op and every
 * later one drops stored points at steps {@code >=} its step; without it, a summary whose step is
 * below the previous summary's drops its tags' points at steps {@code >=} it); a tag's first
 * metadata decides its plugin; legacy {@code simple_value}/{@code histo} values count as scalars
 * and histograms.
 */
public final class TensorBoardView {

  /** One stored point; {@code value} is the Summary.Value as written. */
  public record Point(long step, double wallTime, DynamicMessage value) {
    public float scalar() {
      return (Float) get(value, "simple_value");
    }
  }

  public final List<Path> files = new ArrayList<>();
  public final List<DynamicMessage> events = new ArrayList<>();
  public final Map<String, List<Point>> series = new LinkedHashMap<>();
  public final Map<String, String> pluginByTag = new LinkedHashMap<>();
  public final Map<String, ByteString> contentByTag = new LinkedHashMap<>();
  public final Map<Path, TfRecordReader.Result> endings = new LinkedHashMap<>();
  public int purges;

  private double fileVersion;
  private boolean seenSessionStart;
  private long mostRecentStep = Long.MIN_VALUE;

  private TensorBoardView() {}

  public static TensorBoardView load(Path runDirectory) throws IOException {
    TensorBoardView view = new TensorBoardView();
    List<Path> files;
    try (Stream<Path> list = Files.list(runDirectory)) {
      files =
          list.filter(p -> p.getFileName().toString().contains("tfevents"))
              .filter(p -> !p.getFileName().toString().endsWith(".profile-empty"))
              .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
              .toList();
    }
    for (Path file : files) {
      view.files.add(file);
      TfRecordReader.Result result = TfRecordReader.read(file);
      view.endings.put(file, result);
      for (byte[] payload : result.payloads()) {
        view.process(TensorBoardProtos.parseEvent(payload));
      }
    }
    return view;
  }

  private void process(DynamicMessage event) throws InvalidProtocolBufferException {
    events.add(event);
    if (has(event, "file_version")) {
      String v = (String) get(event, "file_version");
      fileVersion = Double.parseDouble(v.substring(v.indexOf(':') + 1));
    }
    long step = (Long) get(event, "step");
    boolean hasSummary = has(event, "summary");
    if (fileVersion >= 2) {
      if (has(event, "session_log") && (Integer) get(event, "session_log.status") == 1) {
        if (!seenSessionStart) {
          seenSessionStart = true;
        } else {
          purge(step, tag -> true);
        }
      }
    } else if (hasSummary && step < mostRecentStep) {
      List<String> tags = new ArrayList<>();
      for (Object v : (List<?>) get(event, "summary.value")) {
        tags.add((String) get((DynamicMessage) v, "tag"));
      }
      purge(step, tags::contains);
    }
    if (hasSummary) {
      mostRecentStep = step;
      double wall = (Double) get(event, "wall_time");
      for (Object o : (List<?>) get(event, "summary.value")) {
        DynamicMessage value = (DynamicMessage) o;
        String tag = (String) get(value, "tag");
        String plugin;
        ByteString content = ByteString.EMPTY;
        boolean stored;
        if (has(value, "simple_value")) {
          plugin = "scalars";
          stored = true;
        } else if (has(value, "histo")) {
          plugin = "histograms";
          stored = true;
        } else {
          plugin =
              has(value, "metadata") ? (String) get(value, "metadata.plugin_data.plugin_name") : "";
          content =
              has(value, "metadata")
                  ? (ByteString) get(value, "metadata.plugin_data.content")
                  : ByteString.EMPTY;
          // dataclass_compat gives metadata-only hparams values a NULL_TENSOR.
          stored = has(value, "tensor") || plugin.equals("hparams");
        }
        if (!pluginByTag.containsKey(tag)) {
          pluginByTag.put(tag, plugin);
          contentByTag.put(tag, content);
        }
        if (stored) {
          series.computeIfAbsent(tag, t -> new ArrayList<>()).add(new Point(step, wall, value));
        }
      }
    }
  }

  private void purge(long step, Predicate<String> tags) {
    purges++;
    for (Map.Entry<String, List<Point>> e : series.entrySet()) {
      if (tags.test(e.getKey())) {
        e.getValue().removeIf(p -> p.step() >= step);
      }
    }
  }

  public List<Point> points(String tag) {
    return series.getOrDefault(tag, List.of());
  }

  public List<Long> steps(String tag) {
    return points(tag).stream().map(Point::step).toList();
  }

  public List<Float> scalars(String tag) {
    return points(tag).stream().map(Point::scalar).toList();
  }

  /** Tags the given dashboard would list (first metadata carries its plugin). */
  public List<String> tagsOf(String plugin) {
    return pluginByTag.entrySet().stream()
        .filter(e -> e.getValue().equals(plugin))
        .map(Map.Entry::getKey)
        .toList();
  }

  /** The text of a text point (rank-0 DT_STRING tensor). */
  public static String text(Point p) {
    List<?> strings = (List<?>) get(p.value(), "tensor.string_val");
    return ((ByteString) strings.get(0)).toStringUtf8();
  }

  /** The hparams plugin data a tag's first metadata carries. */
  public DynamicMessage hparams(String tag) throws InvalidProtocolBufferException {
    return TensorBoardProtos.parseHParams(contentByTag.get(tag));
  }
}
