package dev.kiln.wandb;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import dev.kiln.wandb.internal.Json;
import dev.kiln.wandb.internal.Sender;
import dev.kiln.wandb.internal.Spool;
import dev.kiln.wandb.internal.SystemStats;
import dev.kiln.wandb.internal.WandbApi;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.OkHttpClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs a Kiln run to W&amp;B without blocking and without losing records.
 *
 * <p>Each call appends one record to the spool {@code <run dir>/wandb/spool.jsonl} and returns; it
 * never waits for the network. A sender thread uploads the spool in the official client's format:
 * history rows ({@code _step}, {@code _runtime}, {@code _timestamp} and the metrics), the whole
 * summary, and system metrics, at most one data post per {@linkplain WandbConfig#transmitInterval()
 * transmit interval}, with heartbeats when idle, retries with backoff, and the final post marked
 * {@code complete} with the run's exit code (an interrupted run is marked {@code preempting}
 * first). The acknowledged position is stored in {@code <run dir>/wandb/ack.json} after each
 * success, so a restarted run (or {@link Sync}) delivers exactly what the server had not
 * acknowledged.
 *
 * <p>Not thread-safe: Kiln calls it from one thread. Created by {@link WandbTrackerProvider} when
 * {@code KILN_TRACKERS} lists {@code wandb}, or directly:
 *
 * <pre>{@code
 * ExperimentTracker tracker = WandbTracker.builder(WandbConfig.builder().project("mnist").build())
 *     .build();
 * }</pre>
 */
public final class WandbTracker implements ExperimentTracker {
  private static final Logger log = LoggerFactory.getLogger("dev.kiln.wandb");
  private static final long SYNC_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final WandbConfig config;
  private final Clock clock;
  private final OkHttpClient httpClient;
  private final boolean ownsHttpClient;
  private final ThreadFactory threadFactory;
  private final Sender.Sleeper sleeper;
  private final SystemStats systemStats;

  private Spool spool;
  private Sender sender;
  private ScheduledExecutorService stats;
  private ScheduledExecutorService writer;
  private final java.util.concurrent.ConcurrentLinkedQueue<String> queued =
      new java.util.concurrent.ConcurrentLinkedQueue<>();
  private volatile boolean syncRequested;
  private volatile IOException writeFailure;
  private Instant startTime;
  private Path runDirectory;
  private long lastSyncNanos;
  private volatile boolean ended;
  private boolean markedPreempting;
  private boolean closed;

  private WandbTracker(Builder b) {
    this.config = b.config;
    this.clock = b.clock;
    this.ownsHttpClient = b.httpClient == null;
    this.httpClient =
        b.httpClient != null
            ? b.httpClient
            : new OkHttpClient.Builder().connectTimeout(Duration.ofSeconds(10)).build();
    this.threadFactory = b.threadFactory != null ? b.threadFactory : daemonThreads();
    this.sleeper = b.sleeper;
    this.systemStats = b.systemStats;
  }

  /** A builder for a tracker with {@code config}. */
  public static Builder builder(WandbConfig config) {
    return new Builder(config);
  }

  /** The tracker's settings. */
  public WandbConfig config() {
    return config;
  }

  @Override
  public String name() {
    return "wandb";
  }

  /**
   * Appends the run's start to the spool and, online, starts the sender. Returns at once unless
   * {@link WandbConfig#failOnError()} is set, in which case it waits up to {@link
   * WandbConfig#initTimeout()} for the server to accept the run.
   *
   * @throws IllegalStateException with {@code failOnError}, when no key is found, the server
   *     rejects the key or the run, or does not answer in time
   */
  @Override
  public void runStarted(RunStart start) throws IOException, InterruptedException {
    if (config.mode() == WandbConfig.Mode.DISABLED) {
      log.info("W&B tracking is disabled (WANDB_MODE=disabled)");
      return;
    }
    runDirectory = start.runDirectory();
    startTime = start.time();
    spool = Spool.open(runDirectory.resolve("wandb"));
    boolean prior = spool.priorLength() > 0;
    String runId = config.runId().orElse(start.runId());
    ObjectNode rec = Json.MAPPER.createObjectNode();
    rec.put("type", "start");
    rec.put("time", seconds(start.time()));
    rec.put("runId", runId);
    rec.put("project", config.project());
    rec.put("entity", config.entity().orElse(null));
    rec.put("displayName", config.name().orElse(start.runName()));
    rec.put("notes", config.notes().orElse(null));
    if (config.tags().isPresent()) {
      ArrayNode tags = rec.putArray("tags");
      config.tags().get().forEach(tags::add);
    }
    rec.put("group", config.group().orElse(null));
    rec.put("jobType", config.jobType().orElse(null));
    rec.put("host", hostName());
    rec.put("program", program());
    rec.set("config", Json.MAPPER.valueToTree(start.config()));
    String resume =
        config
            .resume()
            .map(r -> r.name().toLowerCase(Locale.ROOT))
            .orElse(start.resume().isPresent() ? "allow" : null);
    rec.put("resume", resume);
    if (start.resume().isPresent()) {
      rec.put("resumeStep", start.resume().get().step());
    }
    long startPos = spool.append(Json.write(rec));
    spool.sync();
    lastSyncNanos = System.nanoTime();
    writer = Executors.newSingleThreadScheduledExecutor(threadFactory);
    writer.scheduleWithFixedDelay(this::writeQueuedQuietly, 10, 10, TimeUnit.MILLISECONDS);

    if (config.mode() == WandbConfig.Mode.OFFLINE) {
      log.info("W&B offline: run {} is spooled to {}; {}", runId, spool.dir(), syncHint());
    } else if (config.apiKey().isEmpty()) {
      String host = java.net.URI.create(config.baseUrl()).getHost();
      String msg =
          "No W&B API key for "
              + config.baseUrl()
              + ": set WANDB_API_KEY, add 'machine "
              + host
              + " login user password <key>' to "
              + config.netrcFile()
              + ", or run offline with WANDB_MODE=offline; records are spooled in "
              + spool.dir();
      log.error(msg);
      if (config.failOnError()) {
        throw new IllegalStateException(msg);
      }
    } else {
      WandbApi api = new WandbApi(httpClient, config.baseUrl(), config.apiKey().get());
      boolean resumeCheck = prior || resume != null;
      sender =
          new Sender(
              spool.dir(),
              spool,
              api,
              Sender.Settings.of(config),
              clock,
              sleeper,
              startPos,
              resumeCheck,
              syncHint());
      threadFactory.newThread(sender).start();
      if (config.failOnError() && !sender.awaitInit(config.initTimeout())) {
        String err = sender.initError();
        sender.abort();
        sender = null;
        throw new IllegalStateException(
            err != null
                ? err
                : "W&B at "
                    + config.baseUrl()
                    + " did not accept run "
                    + runId
                    + " within "
                    + config.initTimeout().toSeconds()
                    + " s (initTimeout); check the network or run offline with WANDB_MODE=offline");
      }
    }
    if (config.systemMetrics()) {
      startStats();
    }
  }

  private void startStats() {
    SystemStats sampler = systemStats != null ? systemStats : new SystemStats();
    stats = Executors.newSingleThreadScheduledExecutor(threadFactory);
    long periodMs = config.statsInterval().toMillis();
    stats.scheduleAtFixedRate(
        () -> {
          try {
            Map<String, Object> values = sampler.sample();
            if (values.isEmpty() || ended) {
              return;
            }
            Instant now = clock.instant();
            ObjectNode rec = Json.MAPPER.createObjectNode();
            rec.put("type", "events");
            rec.put("ts", seconds(now));
            rec.put("rt", runtime(now));
            rec.set("values", Json.MAPPER.valueToTree(values));
            spool.append(Json.write(rec));
          } catch (IOException | RuntimeException e) {
            log.debug("System metrics sample failed: {}", e.toString());
          }
        },
        periodMs,
        periodMs,
        TimeUnit.MILLISECONDS);
  }

  /** Appends one history record; its row is sent when a higher step arrives or the run ends. */
  @Override
  public void metrics(MetricsRecord record) throws IOException {
    if (spool == null) {
      return;
    }
    ObjectNode rec = Json.MAPPER.createObjectNode();
    rec.put("type", "history");
    rec.put("step", record.step());
    rec.put("ts", seconds(record.time()));
    rec.put("rt", runtime(record.time()));
    ObjectNode values = rec.putObject("values");
    record.values().forEach(values::put);
    record.notes().forEach(values::put);
    append(rec);
  }

  /** Appends the summary's values; the server's summary keeps them (later values win). */
  @Override
  public void summary(Summary summary) throws IOException {
    if (spool == null) {
      return;
    }
    ObjectNode rec = Json.MAPPER.createObjectNode();
    rec.put("type", "summary");
    rec.put("step", summary.step());
    ObjectNode values = rec.putObject("values");
    summary.values().forEach(values::put);
    append(rec);
  }

  /** Appends histograms as W&amp;B histogram values in the row of their step. */
  @Override
  public void histograms(HistogramRecord record) throws IOException {
    if (spool == null || record.histograms().isEmpty()) {
      return;
    }
    ObjectNode rec = Json.MAPPER.createObjectNode();
    rec.put("type", "history");
    rec.put("step", record.step());
    rec.put("ts", seconds(record.time()));
    rec.put("rt", runtime(record.time()));
    ObjectNode values = rec.putObject("values");
    for (HistogramRecord.Histogram h : record.histograms()) {
      double[] limits = h.bucketLimits();
      double[] counts = h.bucketCounts();
      ObjectNode hn = values.putObject(h.tag());
      hn.put("_type", "histogram");
      ArrayNode v = hn.putArray("values");
      for (double c : counts) {
        v.add(c);
      }
      ArrayNode bins = hn.putArray("bins");
      bins.add(limits.length > 0 ? Math.min(h.min(), limits[0]) : h.min());
      for (double l : limits) {
        bins.add(Double.isInfinite(l) || Math.abs(l) == Double.MAX_VALUE ? h.max() : l);
      }
    }
    append(rec);
  }

  /**
   * Asks the writer thread to fsync the spool on its next tick (within 10 ms) and returns at once:
   * waiting for the disk on a busy machine costs milliseconds. Records reach the spool file (safe
   * from a process kill) within 10 ms of their call; {@link #runEnded} writes them out itself.
   */
  @Override
  public void flush() throws IOException {
    if (spool != null) {
      throwWriteFailure();
      // Kiln calls flush on this tracker's own thread after each epoch and checkpoint commit, so
      // waiting for the disk here costs training nothing and makes the spool at least as new as
      // the newest checkpoint: a kill -9 after the commit loses no record at or below its step.
      requestSync();
      writeQueued();
    }
  }

  private void throwWriteFailure() throws IOException {
    IOException f = writeFailure;
    if (f != null) {
      writeFailure = null;
      throw new IOException(
          "Writing the W&B spool " + spool.file() + " failed: " + f.getMessage(), f);
    }
  }

  private void requestSync() {
    lastSyncNanos = System.nanoTime();
    syncRequested = true;
  }

  /** Writes the queued records to the spool and, when asked, forces them to disk. */
  private synchronized void writeQueued() throws IOException {
    String line;
    while ((line = queued.poll()) != null) {
      spool.append(line);
    }
    if (syncRequested) {
      syncRequested = false;
      spool.sync();
    }
  }

  private void writeQueuedQuietly() {
    try {
      writeQueued();
    } catch (IOException | RuntimeException e) {
      if (writeFailure == null) {
        log.error("Writing the W&B spool {} failed: {}", spool.file(), e.toString());
      }
      writeFailure = e instanceof IOException ? (IOException) e : new IOException(e);
    }
  }

  /**
   * Marks the run {@code preempting} at once, as the Python client's {@code mark_preempting()}
   * posts it, while training writes its final checkpoint: if the machine goes away before the end,
   * W&amp;B shows the run as preempted rather than crashed.
   */
  @Override
  public void stopRequested(StopRequest request) throws IOException {
    if (spool == null || ended || markedPreempting) {
      return;
    }
    writeQueued();
    throwWriteFailure();
    ObjectNode rec = Json.MAPPER.createObjectNode();
    rec.put("type", "preempting");
    rec.put("ts", seconds(request.time()));
    spool.append(Json.write(rec));
    markedPreempting = true; // only once spooled: else the run's end marks it
    spool.sync();
    if (sender != null) {
      sender.postSoon();
    }
  }

  /**
   * Appends the run's end (exit code 0 finished, 1 failed, 255 interrupted) and asks the sender to
   * post everything left, the last post marked {@code complete}. An interrupted run not yet marked
   * {@code preempting} ({@link #stopRequested}) is marked first: with the non-zero exit code
   * W&amp;B then shows it as preempted rather than failed.
   */
  @Override
  public void runEnded(RunEnd end) throws IOException {
    if (spool == null || ended) {
      return;
    }
    ended = true;
    // No system-metrics sample may land after the exit record: the final post is "complete".
    stopStats();
    writeQueued();
    throwWriteFailure();
    if (end.outcome() == RunEnd.Outcome.INTERRUPTED && !markedPreempting) {
      ObjectNode preempting = Json.MAPPER.createObjectNode();
      preempting.put("type", "preempting");
      preempting.put("ts", seconds(end.time()));
      spool.append(Json.write(preempting));
    }
    ObjectNode rec = Json.MAPPER.createObjectNode();
    rec.put("type", "exit");
    rec.put("exitcode", exitCode(end.outcome()));
    rec.put("outcome", end.outcome().name());
    rec.put("step", end.step());
    rec.put("ts", seconds(end.time()));
    spool.append(Json.write(rec));
    spool.sync();
    if (sender != null) {
      sender.finish();
    }
  }

  /**
   * Waits up to {@link WandbConfig#finishTimeout()} for the final upload, then stops. Records not
   * delivered by then stay in the spool; the log says how to upload them with {@link Sync}.
   */
  @Override
  public void close() throws IOException, InterruptedException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      stopStats();
      if (writer != null) {
        writer.shutdown();
        writer.awaitTermination(10, TimeUnit.SECONDS);
        writeQueuedQuietly();
      }
      if (sender != null) {
        sender.finish();
        if (!sender.awaitDone(config.finishTimeout())) {
          sender.abort();
          sender.awaitDone(Duration.ofSeconds(5));
          log.warn(
              "W&B upload did not finish within {} s (finishTimeout); {} bytes of records are safe"
                  + " in {}; {}",
              config.finishTimeout().toSeconds(),
              sender.pendingBytes(),
              spool.dir(),
              syncHint());
        } else if (!sender.delivered()) {
          log.warn(
              "W&B upload stopped early; the records are safe in {}; {}", spool.dir(), syncHint());
        }
      }
    } finally {
      if (spool != null) {
        spool.close();
      }
      if (ownsHttpClient) {
        httpClient.dispatcher().executorService().shutdown();
        httpClient.connectionPool().evictAll();
      }
    }
  }

  /** Stops sampling and waits for a sample in progress to be appended or dropped. */
  private void stopStats() {
    if (stats == null) {
      return;
    }
    stats.shutdownNow();
    try {
      if (!stats.awaitTermination(5, TimeUnit.SECONDS)) {
        log.debug("A system-metrics sample did not stop within 5 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the sender without a final post and leaves the spool as a crash would. Tests only. */
  void abandon() throws IOException, InterruptedException {
    closed = true;
    if (stats != null) {
      stats.shutdownNow();
    }
    if (writer != null) {
      writer.shutdownNow();
    }
    if (sender != null) {
      sender.abort();
      sender.awaitDone(Duration.ofSeconds(5));
    }
    if (spool != null) {
      spool.close();
    }
  }

  Sender sender() {
    return sender;
  }

  /**
   * Queues the record for the writer thread, which writes the queue out every 10 ms: the caller
   * pays for the JSON and a lock-free offer, never for a write, an fsync or a thread wake-up.
   */
  private void append(ObjectNode rec) throws IOException {
    throwWriteFailure();
    queued.add(Json.write(rec));
    if (System.nanoTime() - lastSyncNanos >= SYNC_EVERY_NANOS) {
      requestSync();
    }
  }

  private double runtime(Instant t) {
    return Math.max(0, Duration.between(startTime, t).toNanos() / 1e9);
  }

  private static double seconds(Instant t) {
    return t.getEpochSecond() + t.getNano() / 1e9;
  }

  static int exitCode(RunEnd.Outcome outcome) {
    switch (outcome) {
      case FINISHED:
        return 0;
      case FAILED:
        return 1;
      default:
        return 255;
    }
  }

  private String syncHint() {
    return "upload them with: java -cp <classpath with kiln-tracking-wandb> dev.kiln.wandb.Sync "
        + runDirectory;
  }

  private static String hostName() {
    String h = System.getenv("HOSTNAME");
    if (h != null && !h.isBlank()) {
      return h;
    }
    try {
      String s = Files.readString(Path.of("/etc/hostname")).trim();
      if (!s.isEmpty()) {
        return s;
      }
    } catch (IOException | RuntimeException ignored) {
      // not Linux
    }
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "unknown";
    }
  }

  private static String program() {
    String cmd = System.getProperty("sun.java.command", "");
    String first = cmd.isBlank() ? "" : cmd.trim().split("\\s+")[0];
    return first.isEmpty() ? "java" : first;
  }

  private static ThreadFactory daemonThreads() {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, "kiln-wandb-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** Builds a {@link WandbTracker}; every injection point has a working default. */
  public static final class Builder {
    private final WandbConfig config;
    private Clock clock = Clock.systemUTC();
    private OkHttpClient httpClient;
    private ThreadFactory threadFactory;
    private Sender.Sleeper sleeper;
    private SystemStats systemStats;

    private Builder(WandbConfig config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** The clock for batching, heartbeats and system-metric timestamps. Default system UTC. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The HTTP client; default a new client with a 10 s connect timeout. */
    public Builder httpClient(OkHttpClient httpClient) {
      this.httpClient = Objects.requireNonNull(httpClient, "httpClient");
      return this;
    }

    /**
     * Creates the sender and system-metrics threads; default daemon threads {@code kiln-wandb-N}.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    // VisibleForTesting
    Builder sleeper(Sender.Sleeper sleeper) {
      this.sleeper = sleeper;
      return this;
    }

    // VisibleForTesting
    Builder systemStats(SystemStats systemStats) {
      this.systemStats = systemStats;
      return this;
    }

    public WandbTracker build() {
      return new WandbTracker(this);
    }
  }
}
