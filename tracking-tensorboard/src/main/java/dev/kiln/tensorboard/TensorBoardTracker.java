package dev.kiln.tensorboard;

import dev.kiln.tensorboard.internal.ConfigValues;
import dev.kiln.tensorboard.internal.EventLog;
import dev.kiln.tensorboard.internal.Tags;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.HistogramRecord.Histogram;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.Summary;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a run as TensorBoard event files, readable by {@code tensorboard --logdir <dir>}.
 *
 * <p>What a run's log directory (default {@code <run directory>/tensorboard}) shows:
 *
 * <ul>
 *   <li><b>Scalars</b>: every metric of every record, at the record's step. Epoch records go to
 *       {@code epoch/<name>} (e.g. {@code epoch/train_loss}, {@code epoch/test_acc}), step records
 *       to {@code step/<name>} (e.g. {@code step/train_loss}), so an epoch average never shares a
 *       curve, or a step, with a sampled batch loss. The run summary (latest values and bests) goes
 *       to {@code summary/<name>}. Values are float32 {@code simple_value}s: 0.0, NaN and ±infinity
 *       are written as they are; magnitudes beyond float32 become ±infinity. Names are sanitized as
 *       TensorBoard does: characters other than letters, digits, {@code _ - / .} become {@code _}.
 *   <li><b>Text</b> at the session's first step: {@code kiln/config} (the config as a table) and
 *       {@code kiln/devices} (the device report); {@code notes/<name>} for record notes; {@code
 *       kiln/outcome} at the end.
 *   <li><b>HParams</b>: the config, flattened ({@code optimizer.lr}), as the session's
 *       hyper-parameters, and at run end the session status: FINISHED is {@code STATUS_SUCCESS},
 *       FAILED is {@code STATUS_FAILURE}. An INTERRUPTED run writes no status, because TensorBoard
 *       keeps the first status it reads for a run and the run is meant to be resumed; it shows as
 *       unknown until it ends. The metric columns are the run's scalar tags, last value each.
 *   <li><b>Histograms</b> of the records Kiln sends, at most one record per {@link
 *       TensorBoardConfig#histogramEveryEpochs()} epochs.
 * </ul>
 *
 * <p><b>Durability.</b> Events are buffered in memory and written and synced to disk on every
 * {@link #flush()} (Kiln calls it at each epoch end and after each checkpoint), when {@link
 * TensorBoardConfig#flushInterval()} has passed, and on {@link #close()}. A {@code kill -9} loses
 * at most the unflushed tail; every earlier record stays readable.
 *
 * <p><b>Resume.</b> A run resumed from a checkpoint at step {@code S} writes a new event file in
 * the same directory that begins with a {@code SessionLog START} at step {@code S + 1}. TensorBoard
 * then drops every point at steps above {@code S} that the lost process wrote (including ones at
 * the checkpoint's own step are kept), so each curve is one line without duplicate steps.
 *
 * <p>Kiln calls a tracker from one thread; this class is not thread-safe.
 */
public final class TensorBoardTracker implements ExperimentTracker {
  private static final Logger log = LoggerFactory.getLogger(TensorBoardTracker.class);
  private static final int MAX_CACHED_TAGS = 10_000;

  private final TensorBoardConfig config;
  private final Clock clock;
  private final long flushIntervalMillis;

  private final Map<String, byte[]> stepTags = new HashMap<>();
  private final Map<String, byte[]> epochTags = new HashMap<>();
  private final Map<String, byte[]> summaryTags = new HashMap<>();
  private byte[][] tagScratch = new byte[16][];
  private float[] valueScratch = new float[16];

  private EventLog events;
  private Path logDirectory;
  private SortedMap<String, Object> hparams = new java.util.TreeMap<>();
  private final Set<String> metricTags = new TreeSet<>();
  private final Set<String> warnedHistograms = new HashSet<>();
  private long lastFlushMillis;
  private int completedEpochs;
  private int lastHistogramEpoch = -1;
  private Summary pendingSummary;
  private long lastSummaryStep = Long.MIN_VALUE;

  private TensorBoardTracker(TensorBoardConfig config, Clock clock) {
    this.config = Objects.requireNonNull(config, "config");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.flushIntervalMillis = config.flushInterval().toMillis();
  }

  /** A tracker with this config and the system clock. */
  public static TensorBoardTracker create(TensorBoardConfig config) {
    return new TensorBoardTracker(config, Clock.systemUTC());
  }

  /**
   * A tracker with this config and clock. The clock stamps the file name and events without their
   * own time, and drives {@link TensorBoardConfig#flushInterval()}.
   */
  public static TensorBoardTracker create(TensorBoardConfig config, Clock clock) {
    return new TensorBoardTracker(config, clock);
  }

  @Override
  public String name() {
    return TensorBoardTrackerProvider.NAME;
  }

  /** The directory being written, once the run started. */
  public Optional<Path> logDirectory() {
    return Optional.ofNullable(logDirectory);
  }

  /**
   * Opens a new event file and writes the session start, hyper-parameters and text summaries.
   *
   * @throws IOException "cannot write TensorBoard logs to X" when the log directory or file cannot
   *     be created or written
   */
  @Override
  public void runStarted(RunStart start) throws IOException {
    if (events != null) {
      throw new IllegalStateException("runStarted was already called for this tracker");
    }
    Path dir = config.logDirectoryFor(start.runDirectory());
    try {
      events = EventLog.open(dir, clock, config.bufferSize());
    } catch (IOException | RuntimeException e) {
      throw cannotWrite(dir, e);
    }
    logDirectory = dir;
    Optional<ResumeInfo> resume = start.resume();
    // TensorBoard ignores the first START in a run and purges steps >= s at every later one; the
    // checkpoint's own step S must survive, so resumed sessions start at S + 1.
    long firstStep = resume.map(r -> r.step() + 1).orElse(0L);
    double wall = seconds(start.time());
    events.sessionStart(wall, firstStep);
    if (resume.isPresent()) {
      // A second START: purges even when the lost process's own START never reached the disk.
      events.sessionStart(wall, firstStep);
    }
    hparams = ConfigValues.flatten(start.config());
    events.hparamsSessionStart(wall, firstStep, hparams, start.runId(), wall);
    events.text(
        wall,
        firstStep,
        "kiln/config",
        hparams.isEmpty() ? "(no config)" : ConfigValues.markdownTable(hparams));
    String devices = ConfigValues.codeBlock(start.devices().describe());
    if (resume.isPresent()) {
      ResumeInfo r = resume.get();
      devices =
          "Resumed from checkpoint `"
              + r.checkpoint()
              + "` at step "
              + r.step()
              + " (epoch "
              + r.epoch()
              + ").\n\n"
              + devices;
    }
    events.text(wall, firstStep, "kiln/devices", devices);
    completedEpochs = resume.map(ResumeInfo::epoch).orElse(0);
    flush();
    log.info(
        "TensorBoard: writing run {} to {} (view with: tensorboard --logdir {})",
        start.runName(),
        events.file(),
        dir.getParent() != null ? dir.getParent() : dir);
  }

  static IOException cannotWrite(Path dir, Exception cause) {
    return new IOException(
        "TensorBoard tracker cannot write TensorBoard logs to "
            + dir
            + ": "
            + EventLog.describe(cause)
            + " — make it writable or set "
            + TensorBoardConfig.SETTING_DIR,
        cause);
  }

  @Override
  public void metrics(MetricsRecord record) throws IOException {
    if (events == null) {
      return;
    }
    Map<String, Double> values = record.values();
    boolean epoch = record.kind() == MetricsRecord.Kind.EPOCH;
    int n = values.size();
    if (n > 0) {
      if (n > tagScratch.length) {
        tagScratch = new byte[Math.max(n, tagScratch.length * 2)][];
        valueScratch = new float[tagScratch.length];
      }
      Map<String, byte[]> cache = epoch ? epochTags : stepTags;
      String prefix = epoch ? "epoch/" : "step/";
      int i = 0;
      for (Map.Entry<String, Double> e : values.entrySet()) {
        tagScratch[i] = tagBytes(cache, prefix, e.getKey());
        valueScratch[i] = (float) e.getValue().doubleValue();
        i++;
      }
      events.scalars(seconds(record.time()), record.step(), tagScratch, valueScratch, n);
    }
    for (Map.Entry<String, String> note : record.notes().entrySet()) {
      events.text(
          seconds(record.time()),
          record.step(),
          Tags.sanitize("notes/" + note.getKey()),
          note.getValue());
    }
    if (epoch) {
      completedEpochs = Math.max(completedEpochs, record.epoch());
    }
    flushIfDue();
  }

  private byte[] tagBytes(Map<String, byte[]> cache, String prefix, String key) {
    byte[] tag = cache.get(key);
    if (tag == null) {
      String sanitized = Tags.sanitize(prefix + key);
      tag = sanitized.getBytes(StandardCharsets.UTF_8);
      if (cache != stepTags) {
        metricTags.add(sanitized); // epoch and summary metrics: the HParams columns
      }
      if (cache.size() < MAX_CACHED_TAGS) {
        cache.put(key, tag);
      }
    }
    return tag;
  }

  /** Kept and written as {@code summary/<name>} scalars at the next flush. */
  @Override
  public void summary(Summary summary) {
    pendingSummary = summary;
  }

  @Override
  public void histograms(HistogramRecord record) throws IOException {
    if (events == null) {
      return;
    }
    if (lastHistogramEpoch >= 0
        && completedEpochs - lastHistogramEpoch < config.histogramEveryEpochs()) {
      return;
    }
    List<Histogram> valid = new ArrayList<>(record.histograms().size());
    List<String> tags = new ArrayList<>(record.histograms().size());
    for (Histogram h : record.histograms()) {
      int limits = h.bucketLimits().length;
      int counts = h.bucketCounts().length;
      if (limits == 0 || limits != counts) {
        if (warnedHistograms.add(h.tag())) {
          log.warn(
              "TensorBoard: skipping histogram {}: it has {} bucket limits and {} bucket counts;"
                  + " they must be equal and non-zero",
              h.tag(),
              limits,
              counts);
        }
        continue;
      }
      valid.add(h);
      tags.add(Tags.sanitize(h.tag()));
    }
    if (!valid.isEmpty()) {
      events.histograms(seconds(record.time()), record.step(), valid, tags);
    }
    lastHistogramEpoch = completedEpochs;
    flushIfDue();
  }

  /** Writes what is buffered and syncs the file to disk. */
  @Override
  public void flush() throws IOException {
    if (events == null) {
      return;
    }
    writePendingSummary();
    lastFlushMillis = clock.millis();
    events.flush();
  }

  private void flushIfDue() throws IOException {
    if (clock.millis() - lastFlushMillis >= flushIntervalMillis) {
      flush();
    }
  }

  private void writePendingSummary() throws IOException {
    Summary s = pendingSummary;
    if (s == null || s.step() <= lastSummaryStep) {
      return; // a later summary at a higher step replaces it; never two points at one step
    }
    pendingSummary = null;
    lastSummaryStep = s.step();
    int n = s.values().size();
    if (n == 0) {
      return;
    }
    byte[][] tags = new byte[n][];
    float[] values = new float[n];
    int i = 0;
    for (Map.Entry<String, Double> e : s.values().entrySet()) {
      tags[i] = tagBytes(summaryTags, "summary/", e.getKey());
      values[i] = (float) e.getValue().doubleValue();
      i++;
    }
    events.scalars(seconds(clock.instant()), s.step(), tags, values, n);
  }

  @Override
  public void runEnded(RunEnd end) throws IOException {
    if (events == null) {
      return;
    }
    writePendingSummary();
    double wall = seconds(end.time());
    String outcome;
    switch (end.outcome()) {
      case FINISHED -> {
        events.hparamsSessionEnd(wall, end.step(), EventLog.STATUS_SUCCESS, wall);
        outcome = "Finished";
      }
      case FAILED -> {
        events.hparamsSessionEnd(wall, end.step(), EventLog.STATUS_FAILURE, wall);
        outcome = "Failed: " + end.failure().orElse("(no cause given)");
      }
      default -> outcome = "Interrupted; resumable from its last checkpoint";
    }
    events.text(
        wall,
        end.step(),
        "kiln/outcome",
        outcome + " at step " + end.step() + " after " + end.epoch() + " epochs.");
    if (config.hparamsExperiment()) {
      events.hparamsExperiment(wall, end.step(), hparams, List.copyOf(metricTags), wall);
    }
    flush();
  }

  /** Flushes and closes the event file. */
  @Override
  public void close() throws IOException {
    if (events != null) {
      try {
        writePendingSummary();
      } finally {
        EventLog e = events;
        events = null;
        e.close();
      }
    }
  }

  private static double seconds(Instant t) {
    return t.getEpochSecond() + t.getNano() / 1e9;
  }

  @Override
  public String toString() {
    return "TensorBoardTracker{" + config + "}";
  }
}
