package dev.kiln.wandb.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.wandb.WandbConfig;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers a spool to the server: creates or continues the run, then posts {@code file_stream}
 * batches from the acknowledged position, one request at a time, resending an identical body after
 * each failure, and stores the new acknowledged state after each 2xx.
 *
 * <p>Runs on its own thread. Nothing here is called by the training side except {@link #finish()},
 * {@link #abort()} and the await methods.
 */
public final class Sender implements Runnable {
  private static final Logger log = LoggerFactory.getLogger("dev.kiln.wandb");

  static final String HISTORY = "wandb-history.jsonl";
  static final String SUMMARY = "wandb-summary.json";
  static final String EVENTS = "wandb-events.jsonl";
  private static final int MAX_LINES = 10_000;
  private static final long MAX_BYTES = 8L << 20;
  private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  /** How retry waits are spent; tests replace the real wait. */
  @FunctionalInterface
  public interface Sleeper {
    void sleep(Duration duration) throws InterruptedException;
  }

  /** What one sender needs besides the spool. */
  public record Settings(
      Duration transmitInterval,
      Duration heartbeatInterval,
      Duration retryBaseDelay,
      Duration retryMaxDelay,
      String entityFallback,
      String projectFallback) {
    public static Settings of(WandbConfig c) {
      return new Settings(
          c.transmitInterval(),
          c.heartbeatInterval(),
          c.retryBaseDelay(),
          c.retryMaxDelay(),
          c.entity().orElse(null),
          c.project());
    }
  }

  private final Path dir;
  private final Spool spool;
  private final LongSupplier limit;
  private final WandbApi api;
  private final Settings settings;
  private final Clock clock;
  private final Sleeper sleeper;
  private final long sessionStartPos;
  private final boolean resumeCheck;
  private final String syncHint;

  private final CountDownLatch initDone = new CountDownLatch(1);
  private final CountDownLatch done = new CountDownLatch(1);
  private volatile boolean finishing;
  private volatile boolean urgent; // post what is spooled now, not at the next interval
  private volatile boolean aborted;
  private volatile Thread thread;
  private volatile String initError;
  private volatile boolean initOk;
  private volatile boolean delivered;
  private volatile AckState state;

  private String entity;
  private String project;
  private String runName;
  private boolean summaryDirty;
  private boolean warnedUnreachable;
  private boolean failing;
  private int failedAttempts;
  private long skipped;

  /**
   * @param spool the live spool, or null when uploading a finished spool file (sync)
   * @param sessionStartPos position of the start record of the session whose end may complete the
   *     run; end records of earlier sessions do not
   * @param resumeCheck whether to ask the server what it already has before creating the run
   */
  public Sender(
      Path dir,
      Spool spool,
      WandbApi api,
      Settings settings,
      Clock clock,
      Sleeper sleeper,
      long sessionStartPos,
      boolean resumeCheck,
      String syncHint)
      throws IOException {
    this.dir = dir;
    this.spool = spool;
    long fixedLimit = spool == null ? Files.size(dir.resolve(Spool.FILE_NAME)) : -1;
    this.limit = spool == null ? () -> fixedLimit : spool::length;
    this.api = api;
    this.settings = settings;
    this.clock = clock;
    this.sleeper = sleeper;
    this.sessionStartPos = sessionStartPos;
    this.resumeCheck = resumeCheck;
    this.syncHint = syncHint;
    if (spool == null) {
      finishing = true;
    }
  }

  /** Asks the sender to deliver everything spooled so far and stop. */
  public void finish() {
    finishing = true;
    wake();
  }

  /** Asks the sender to post what is spooled now rather than at the next transmit interval. */
  public void postSoon() {
    urgent = true;
    wake();
  }

  /** Stops at once, cancelling the request in flight. Undelivered records stay in the spool. */
  public void abort() {
    aborted = true;
    api.cancel();
    wake();
  }

  private void wake() {
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /** Waits until the run is created (true), creation failed or stopped (false), or time passes. */
  public boolean awaitInit(Duration timeout) throws InterruptedException {
    initDone.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    return initOk;
  }

  /** The reason run creation failed, if it did. */
  public String initError() {
    return initError;
  }

  /** Waits for the sender to stop; true if it stopped in time. */
  public boolean awaitDone(Duration timeout) throws InterruptedException {
    return done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Whether everything in the spool up to its length at finish was delivered. */
  public boolean delivered() {
    return delivered;
  }

  /** Bytes of spool not yet acknowledged by the server. */
  public long pendingBytes() {
    AckState s = state;
    return Math.max(0, limit.getAsLong() - (s == null ? 0 : s.pos));
  }

  /** History records skipped because the server already had their step. */
  public long skippedRecords() {
    return skipped;
  }

  @Override
  public void run() {
    thread = Thread.currentThread();
    try (FileChannel lockChannel =
        FileChannel.open(
            dir.resolve("sender.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      FileLock lock = acquire(lockChannel);
      if (lock == null) {
        return;
      }
      try (lock;
          Spool.Reader reader = new Spool.Reader(dir.resolve(Spool.FILE_NAME))) {
        boolean ackExisted = Files.isRegularFile(dir.resolve(AckState.FILE_NAME));
        state = AckState.load(dir);
        if (!init(reader, ackExisted)) {
          return;
        }
        loop(reader);
      }
    } catch (Throwable t) {
      log.error(
          "W&B sender stopped unexpectedly ({}); records stay in {}; {}",
          t.toString(),
          dir,
          syncHint,
          t);
    } finally {
      initDone.countDown();
      done.countDown();
    }
  }

  private FileLock acquire(FileChannel ch) throws IOException {
    boolean told = false;
    while (!aborted) {
      try {
        FileLock l = ch.tryLock();
        if (l != null) {
          return l;
        }
      } catch (OverlappingFileLockException e) {
        // another sender in this JVM holds it
      }
      if (!told) {
        log.info("Another process is uploading {}; waiting for it to finish", dir);
        told = true;
      }
      if (finishing && spool != null) {
        return null;
      }
      pause(Duration.ofMillis(200));
    }
    return null;
  }

  // ---------------------------------------------------------------- run creation

  private boolean init(Spool.Reader reader, boolean ackExisted) throws IOException {
    List<Spool.Line> first = reader.read(sessionStartPos, limit.getAsLong(), 1, Long.MAX_VALUE);
    if (first.isEmpty()) {
      return fail("the spool in " + dir + " has no run start record; nothing to upload");
    }
    JsonNode start = Json.read(first.get(0).text());
    if (!"start".equals(start.path("type").asText())) {
      return fail("the spool in " + dir + " is damaged: no run start record at " + sessionStartPos);
    }
    String runId = start.path("runId").asText();
    String proj = text(start, "project", settings.projectFallback());
    String ent = text(start, "entity", settings.entityFallback());
    String resumeMode = text(start, "resume", null);
    ObjectNode config =
        start.hasNonNull("config")
            ? (ObjectNode) start.get("config")
            : Json.MAPPER.createObjectNode();
    JsonNode tags = start.get("tags");
    String notes = text(start, "notes", null);
    String storageId = null;

    if (resumeCheck || resumeMode != null) {
      ObjectNode vars = Json.MAPPER.createObjectNode();
      vars.put("project", proj);
      vars.put("entity", ent);
      vars.put("name", runId);
      WandbApi.Result r =
          withRetry(() -> api.graphql("RunResumeStatus", WandbApi.RUN_RESUME_STATUS, vars), true);
      if (r == null) {
        return false;
      }
      if (!r.ok()) {
        return fail(rejection(r, "reading the resume status of run " + runId));
      }
      JsonNode bucket = Json.read(r.body()).path("data").path("model").path("bucket");
      boolean exists = bucket.isObject();
      if (!exists && "must".equals(resumeMode)) {
        return fail(
            "W&B run "
                + runId
                + " does not exist in "
                + (ent == null ? "" : ent + "/")
                + proj
                + ", but WANDB_RESUME=must needs an existing run — fix WANDB_RUN_ID or unset"
                + " WANDB_RESUME");
      }
      if (exists && "never".equals(resumeMode)) {
        return fail(
            "W&B run "
                + runId
                + " already exists, but WANDB_RESUME=never — choose another WANDB_RUN_ID or unset"
                + " WANDB_RESUME");
      }
      if (exists) {
        storageId = text(bucket, "id", null);
        applyResumeStatus(bucket, ackExisted, config);
        if (tags == null || tags.isNull()) {
          tags = bucket.get("tags");
        }
        if (notes == null) {
          notes = text(bucket, "notes", null);
        }
      }
    }

    ObjectNode vars = Json.MAPPER.createObjectNode();
    vars.put("id", storageId);
    vars.put("name", runId);
    vars.put("project", proj);
    vars.put("entity", ent);
    vars.put("groupName", text(start, "group", null));
    vars.putNull("description");
    vars.put("displayName", text(start, "displayName", null));
    vars.put("notes", notes);
    vars.putNull("commit");
    vars.put("config", Json.write(encodeConfig(config)));
    vars.put("host", text(start, "host", null));
    vars.putNull("debug");
    vars.put("program", text(start, "program", null));
    vars.putNull("repo");
    vars.put("jobType", text(start, "jobType", null));
    vars.putNull("state");
    vars.putNull("sweep");
    if (tags == null || tags.isNull()) {
      vars.putNull("tags");
    } else {
      vars.set("tags", tags);
    }
    vars.putNull("summaryMetrics");
    WandbApi.Result r =
        withRetry(() -> api.graphql("UpsertBucket", WandbApi.UPSERT_BUCKET, vars), true);
    if (r == null) {
      return false;
    }
    if (!r.ok()) {
      return fail(rejection(r, "creating run " + runId));
    }
    JsonNode resp = Json.read(r.body());
    JsonNode bucket = resp.path("data").path("upsertBucket").path("bucket");
    if (!bucket.isObject()) {
      String msg = r.errorMessage();
      return fail(
          "W&B did not create run "
              + runId
              + (msg.isEmpty() ? "" : ": " + msg)
              + "; records stay in "
              + dir
              + "; "
              + syncHint);
    }
    entity = text(bucket.path("project").path("entity"), "name", ent == null ? "" : ent);
    project = text(bucket.path("project"), "name", proj);
    runName = text(bucket, "name", runId);
    long hlc = bucket.path("historyLineCount").asLong(0);
    AckState s = state;
    if (!ackExisted && storageId == null && hlc > s.historyLine) {
      // An existing run continued without a resume query: history continues after its lines.
      s.historyLine = hlc;
    }
    String display = text(bucket, "displayName", runName);
    log.info("W&B run {}: {}", display, webUrl());
    initOk = true;
    initDone.countDown();
    return true;
  }

  private void applyResumeStatus(JsonNode bucket, boolean ackExisted, ObjectNode config) {
    AckState s = state;
    long historyCount = bucket.path("historyLineCount").asLong(0);
    long eventsCount = bucket.path("eventsLineCount").asLong(0);
    JsonNode summary = parseJsonString(bucket.get("summaryMetrics"));
    long lastStep = -1;
    double runtime = 0;
    if (summary.isObject()) {
      lastStep = summary.path("_step").asLong(-1);
      runtime =
          Math.max(
              summary.path("_wandb").path("runtime").asDouble(0),
              summary.path("_runtime").asDouble(0));
    }
    JsonNode tail = parseJsonString(bucket.get("historyTail"));
    if (tail.isArray() && tail.size() > 0) {
      JsonNode last = parseJsonString(tail.get(tail.size() - 1));
      if (last.has("_step")) {
        lastStep = last.get("_step").asLong();
      }
      runtime = Math.max(runtime, last.path("_runtime").asDouble(0));
    }
    JsonNode etail = parseJsonString(bucket.get("eventsTail"));
    if (etail.isArray() && etail.size() > 0) {
      runtime =
          Math.max(
              runtime, parseJsonString(etail.get(etail.size() - 1)).path("_runtime").asDouble(0));
    }
    if (historyCount > 0) {
      s.historyLine = Math.max(s.historyLine, historyCount);
      s.lastStep = Math.max(s.lastStep, lastStep);
    }
    if (s.pendingRow != null && s.pendingStep <= s.lastStep) {
      s.pendingRow = null;
      s.pendingStep = -1;
    }
    if (!ackExisted) {
      s.eventsLine = Math.max(s.eventsLine, eventsCount);
    }
    s.runtimeMax = Math.max(s.runtimeMax, runtime);
    if (s.summary.isEmpty() && summary.isObject()) {
      Map<String, Object> old = Json.MAPPER.convertValue(summary, LinkedHashMap.class);
      s.summary.putAll(old);
      summaryDirty = true;
    }
    JsonNode oldConfig = parseJsonString(bucket.get("config"));
    if (oldConfig.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = oldConfig.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getKey().equals("_wandb") && !config.has(e.getKey())) {
          config.set(
              e.getKey(), e.getValue().has("value") ? e.getValue().get("value") : e.getValue());
        }
      }
    }
  }

  private static JsonNode parseJsonString(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      return Json.MAPPER.missingNode();
    }
    if (n.isTextual()) {
      try {
        return Json.MAPPER.readTree(n.asText());
      } catch (IOException e) {
        return Json.MAPPER.missingNode();
      }
    }
    return n;
  }

  /** The config as the official client encodes it: every key wrapped as {@code {"value": v}}. */
  static ObjectNode encodeConfig(ObjectNode plain) {
    ObjectNode out = Json.MAPPER.createObjectNode();
    ObjectNode wandb = out.putObject("_wandb").putObject("value");
    wandb.putObject("t");
    wandb.putArray("m");
    wandb.put("client", WandbApi.USER_AGENT);
    wandb.put("java_version", System.getProperty("java.version"));
    for (Iterator<Map.Entry<String, JsonNode>> it = plain.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      out.putObject(e.getKey()).set("value", e.getValue());
    }
    return out;
  }

  private String rejection(WandbApi.Result r, String what) {
    if (r.status() == 401 || r.status() == 403) {
      return "W&B rejected the API key for "
          + api.baseUrl()
          + " (HTTP "
          + r.status()
          + ") — check WANDB_API_KEY or run offline with WANDB_MODE=offline";
    }
    return "W&B refused "
        + what
        + " ("
        + r.describe()
        + "); records stay in "
        + dir
        + "; fix the cause, then "
        + syncHint;
  }

  private boolean fail(String message) {
    initError = message;
    log.error(message);
    initDone.countDown();
    return false;
  }

  // ---------------------------------------------------------------- streaming

  private void loop(Spool.Reader reader) throws IOException {
    long intervalMs = settings.transmitInterval().toMillis();
    long heartbeatMs = settings.heartbeatInterval().toMillis();
    long lastPost = clock.millis();
    long lastDataPost = Long.MIN_VALUE;
    boolean capped = false;
    while (!aborted) {
      // Read before the limit: what postSoon() asked for was spooled before it asked.
      boolean urgentNow = urgent;
      if (urgentNow) {
        urgent = false;
      }
      long lim = limit.getAsLong();
      AckState s = state;
      boolean hasNew = s.pos < lim || summaryDirty;
      boolean flushPending = false;
      if (!hasNew && finishing) {
        if (s.pendingRow != null && !s.complete && spool == null) {
          flushPending = true; // a crashed run being synced: its last row goes out too
        } else {
          delivered = true;
          return;
        }
      }
      long now = clock.millis();
      boolean due =
          flushPending
              || hasNew
                  && (finishing
                      || urgentNow
                      || capped
                      || lastDataPost == Long.MIN_VALUE
                      || now - lastDataPost >= intervalMs);
      if (due) {
        if (spool != null) {
          spool.sync();
        }
        Batch b = build(reader, s, lim, flushPending);
        capped = b.capped;
        if (b.body == null) {
          state = b.next;
          b.next.store(dir);
          continue;
        }
        WandbApi.Result r =
            withRetry(() -> api.fileStream(entity, project, runName, b.body), false);
        if (r == null) {
          return;
        }
        if (!r.ok()) {
          streamFailed(r);
          return;
        }
        b.next.store(dir);
        state = b.next;
        summaryDirty = false;
        lastDataPost = lastPost = clock.millis();
        noteResponse(r);
        continue;
      }
      if (now - lastPost >= heartbeatMs) {
        WandbApi.Result r =
            api.fileStream(entity, project, runName, "{}".getBytes(StandardCharsets.UTF_8));
        if (!r.ok() && r.failure() == null && WandbApi.isFatal(r.status(), false)) {
          streamFailed(r);
          return;
        }
        if (!r.ok()) {
          noteFailure(r);
        } else {
          noteSuccess();
        }
        lastPost = clock.millis();
        continue;
      }
      long next = lastPost + heartbeatMs;
      if (hasNew && lastDataPost != Long.MIN_VALUE) {
        next = Math.min(next, lastDataPost + intervalMs);
      }
      long waitMs = Math.max(1, next - now);
      LockSupport.parkNanos(Math.min(SLICE_NANOS, TimeUnit.MILLISECONDS.toNanos(waitMs)));
    }
  }

  private void noteResponse(WandbApi.Result r) {
    if (r.body() != null && r.body().contains("\"stopped\"")) {
      try {
        if (Json.MAPPER.readTree(r.body()).path("stopped").asBoolean()) {
          log.warn("The W&B run {} was stopped in the W&B UI; Kiln keeps training", runName);
        }
      } catch (IOException ignored) {
        // not JSON: only logged by the official client too
      }
    }
  }

  private void streamFailed(WandbApi.Result r) {
    String msg =
        r.status() == 401 || r.status() == 403
            ? rejection(r, "")
            : "W&B refused an upload for run "
                + runName
                + " ("
                + r.describe()
                + "); uploading stops and records stay in "
                + dir
                + "; fix the cause, then "
                + syncHint;
    log.error(msg);
  }

  private static final class Batch {
    byte[] body;
    AckState next;
    boolean capped;
  }

  private Batch build(Spool.Reader reader, AckState s0, long lim, boolean flushPending)
      throws IOException {
    AckState s = s0.copy();
    List<String> history = new ArrayList<>();
    long historyOffset = s.historyLine;
    List<String> events = new ArrayList<>();
    long eventsOffset = s.eventsLine;
    boolean summaryChanged = summaryDirty;
    boolean complete = false;
    boolean preempting = false;
    int exitcode = 0;
    List<Spool.Line> lines = reader.read(s.pos, lim, MAX_LINES, MAX_BYTES);
    Batch b = new Batch();
    for (Spool.Line line : lines) {
      JsonNode rec;
      try {
        rec = Json.MAPPER.readTree(line.text());
      } catch (IOException e) {
        log.warn("Skipping a damaged record at byte {} of {}", line.start(), dir);
        s.pos = line.end();
        continue;
      }
      switch (rec.path("type").asText()) {
        case "start":
          s.runtimeBase = s.runtimeMax;
          s.complete = false;
          break;
        case "history":
          {
            long step = rec.path("step").asLong();
            if (step <= s.lastStep || (s.pendingRow != null && step < s.pendingStep)) {
              skipped++;
              break;
            }
            double runtime = s.runtimeBase + rec.path("rt").asDouble();
            s.runtimeMax = Math.max(s.runtimeMax, runtime);
            double ts = rec.path("ts").asDouble();
            if (s.pendingRow == null || step != s.pendingStep) {
              if (s.pendingRow != null) {
                history.add(emitPending(s));
              }
              s.pendingRow = new LinkedHashMap<>();
              s.pendingStep = step;
            }
            Map<String, Object> values = values(rec);
            s.pendingRow.putAll(values);
            s.pendingRow.put("_step", step);
            s.pendingRow.put("_runtime", runtime);
            s.pendingRow.put("_timestamp", ts);
            s.summary.putAll(values);
            s.summary.put("_step", step);
            s.summary.put("_runtime", runtime);
            s.summary.put("_timestamp", ts);
            s.summary.put("_wandb", Map.of("runtime", (long) s.runtimeMax));
            summaryChanged = true;
            break;
          }
        case "summary":
          s.summary.putAll(values(rec));
          summaryChanged = true;
          break;
        case "events":
          {
            double runtime = s.runtimeBase + rec.path("rt").asDouble();
            Map<String, Object> row = values(rec);
            row.put("_wandb", true);
            row.put("_timestamp", rec.path("ts").asDouble());
            row.put("_runtime", runtime);
            events.add(Json.write(row));
            s.eventsLine++;
            break;
          }
        case "preempting":
          // Posted on its own, as the Python client posts it: data before it goes out first.
          if (line.start() >= sessionStartPos) {
            if (!history.isEmpty() || !events.isEmpty() || summaryChanged) {
              b.capped = true; // more to send right away: the preempting post
              break;
            }
            preempting = true;
          }
          break;
        case "exit":
          if (line.start() >= sessionStartPos) {
            if (s.pendingRow != null) {
              history.add(emitPending(s));
            }
            complete = true;
            exitcode = rec.path("exitcode").asInt();
            s.summary.put("_wandb", Map.of("runtime", (long) s.runtimeMax));
            summaryChanged = true;
          }
          break;
        default:
          break;
      }
      if (b.capped) {
        break; // stop before the preempting record; the next batch starts with it
      }
      s.pos = line.end();
      if (complete || preempting) {
        break;
      }
    }
    if (flushPending && s.pendingRow != null) {
      history.add(emitPending(s));
    }
    s.complete = complete || s.complete;
    b.next = s;
    b.capped =
        b.capped
            || preempting
            || (!complete && !lines.isEmpty() && s.pos < lim && lines.size() >= MAX_LINES);
    if (history.isEmpty() && events.isEmpty() && !summaryChanged && !complete && !preempting) {
      return b;
    }
    ObjectNode body = Json.MAPPER.createObjectNode();
    ObjectNode files = body.putObject("files");
    if (!history.isEmpty()) {
      addFile(files, HISTORY, historyOffset, history);
    }
    if (summaryChanged) {
      addFile(files, SUMMARY, 0, List.of(Json.write(s.summary)));
    }
    if (!events.isEmpty()) {
      addFile(files, EVENTS, eventsOffset, events);
    }
    if (files.isEmpty()) {
      body.remove("files");
    }
    if (complete) {
      body.put("complete", true);
      body.put("exitcode", exitcode);
    } else if (preempting) {
      body.put("complete", false);
      body.put("preempting", true);
    }
    b.body = Json.write(body).getBytes(StandardCharsets.UTF_8);
    return b;
  }

  private static String emitPending(AckState s) {
    String line = Json.write(s.pendingRow);
    s.historyLine++;
    s.lastStep = s.pendingStep;
    s.pendingRow = null;
    s.pendingStep = -1;
    return line;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> values(JsonNode rec) {
    JsonNode v = rec.get("values");
    if (v == null || !v.isObject()) {
      return new LinkedHashMap<>();
    }
    return Json.MAPPER.convertValue(v, LinkedHashMap.class);
  }

  private static void addFile(ObjectNode files, String name, long offset, List<String> lines) {
    ObjectNode f = files.putObject(name);
    f.put("offset", offset);
    ArrayNode content = f.putArray("content");
    lines.forEach(content::add);
  }

  // ---------------------------------------------------------------- retries

  /** Retries until a 2xx or a fatal status; null when aborted. */
  private WandbApi.Result withRetry(Supplier<WandbApi.Result> call, boolean graphql) {
    int attempt = 0;
    while (!aborted) {
      WandbApi.Result r = call.get();
      if (r.ok()) {
        noteSuccess();
        return r;
      }
      if (aborted) {
        return null;
      }
      if (r.failure() == null && WandbApi.isFatal(r.status(), graphql)) {
        return r;
      }
      noteFailure(r);
      Duration delay = r.retryAfter() != null ? r.retryAfter() : backoff(attempt);
      attempt++;
      pause(delay);
    }
    return null;
  }

  private Duration backoff(int attempt) {
    double factor =
        Math.pow(2, Math.min(attempt, 30)) * (1 + ThreadLocalRandom.current().nextDouble(0.25));
    double ms = settings.retryBaseDelay().toMillis() * factor;
    return Duration.ofMillis((long) Math.min(settings.retryMaxDelay().toMillis(), ms));
  }

  private void noteFailure(WandbApi.Result r) {
    failedAttempts++;
    failing = true;
    if (!warnedUnreachable) {
      warnedUnreachable = true;
      log.warn(
          "W&B at {} is not accepting uploads ({}); training goes on, records are kept in {} and"
              + " retried in the background",
          api.baseUrl(),
          r.describe(),
          dir);
    } else {
      log.debug("W&B attempt failed: {}", r.describe());
    }
  }

  private void noteSuccess() {
    if (failing) {
      log.info(
          "W&B at {} accepts uploads again after {} failed attempts",
          api.baseUrl(),
          failedAttempts);
      failing = false;
      failedAttempts = 0;
    }
  }

  private void pause(Duration d) {
    if (sleeper != null) {
      try {
        sleeper.sleep(d);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        aborted = true;
      }
      return;
    }
    long deadline = System.nanoTime() + d.toNanos();
    while (!aborted) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return;
      }
      LockSupport.parkNanos(Math.min(left, SLICE_NANOS));
    }
  }

  // ---------------------------------------------------------------- helpers

  /** The run's page in the web UI. */
  public String webUrl() {
    String base = api.baseUrl();
    String host = api.host();
    if (host.startsWith("api.")) {
      base = base.replaceFirst("//api\\.", "//");
    }
    return base + "/" + entity + "/" + project + "/runs/" + runName;
  }

  private static String text(JsonNode n, String field, String dflt) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() || v.asText().isEmpty() ? dflt : v.asText();
  }
}
