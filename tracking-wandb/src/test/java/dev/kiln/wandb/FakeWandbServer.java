package dev.kiln.wandb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.wandb.internal.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Headers;

/**
 * An in-process W&amp;B server on 127.0.0.1 that implements the spec's fake-server contract
 * (UpsertBucket, RunResumeStatus, file_stream with the line model) and checks, as the real server
 * would see it, that offsets are contiguous, history steps increase, no line is changed once
 * written, and {@code complete} comes last and once.
 */
final class FakeWandbServer implements AutoCloseable {

  /** One request as the server saw it. */
  record Req(String method, String path, Headers headers, String body, int status) {
    JsonNode json() {
      return body == null || body.isEmpty() ? Json.MAPPER.missingNode() : Json.read(body);
    }

    String operation() {
      return json().path("operationName").asText();
    }

    boolean isFileStream() {
      return path.endsWith("/file_stream");
    }
  }

  /** A run's server-side state. */
  static final class Run {
    String id;
    String entity;
    String project;
    String name;
    String displayName;
    String config;
    JsonNode tags;
    String notes;
    final Map<String, List<String>> files = new LinkedHashMap<>();
    int completes;
    Integer exitcode;
    boolean complete;
    int preemptings; // posts marked preempting, as the official client's mark_preempting() sends

    List<String> file(String name) {
      return files.computeIfAbsent(name, k -> new ArrayList<>());
    }

    List<JsonNode> history() {
      List<JsonNode> out = new ArrayList<>();
      for (String l : file("wandb-history.jsonl")) {
        out.add(Json.read(l));
      }
      return out;
    }

    JsonNode summary() {
      List<String> s = file("wandb-summary.json");
      return s.isEmpty() ? Json.MAPPER.missingNode() : Json.read(s.get(s.size() - 1));
    }
  }

  private final MockWebServer server = new MockWebServer();
  private final String expectedAuth;
  private final List<Req> requests = new ArrayList<>();
  private final Map<String, Run> runs = new LinkedHashMap<>();
  private final Deque<MockResponse> fileStreamFailures = new ArrayDeque<>();
  private final List<String> violations = new ArrayList<>();
  private volatile CountDownLatch hold;
  private final CountDownLatch held = new CountDownLatch(1);
  private int runCounter;

  FakeWandbServer(String apiKey) {
    this.expectedAuth =
        "Basic "
            + Base64.getEncoder()
                .encodeToString(("api:" + apiKey).getBytes(StandardCharsets.UTF_8));
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
            return handle(request);
          }
        });
  }

  FakeWandbServer start() throws IOException {
    server.start(InetAddress.getByName("127.0.0.1"), 0);
    return this;
  }

  FakeWandbServer start(int port) throws IOException {
    server.start(InetAddress.getByName("127.0.0.1"), port);
    return this;
  }

  String url() {
    return "http://127.0.0.1:" + server.getPort();
  }

  /** Makes the next file_stream posts fail with these responses, in order. */
  synchronized FakeWandbServer failFileStream(MockResponse... responses) {
    fileStreamFailures.addAll(List.of(responses));
    return this;
  }

  static MockResponse status(int code) {
    return new MockResponse.Builder()
        .code(code)
        .body("{\"error\":\"injected " + code + "\"}")
        .build();
  }

  static MockResponse status(int code, String retryAfter) {
    return new MockResponse.Builder()
        .code(code)
        .addHeader("Retry-After", retryAfter)
        .body("{\"error\":\"injected " + code + "\"}")
        .build();
  }

  /** From now on, file_stream posts are applied, then held without an answer until released. */
  synchronized void holdFileStream() {
    hold = new CountDownLatch(1);
  }

  /** True once a file_stream request is being held. */
  boolean awaitHeld(Duration timeout) throws InterruptedException {
    return held.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  boolean holding() {
    CountDownLatch h = hold;
    return h != null && h.getCount() > 0;
  }

  void release() {
    CountDownLatch h = hold;
    hold = null;
    if (h != null) {
      h.countDown();
    }
  }

  /** Adds an existing run, as an earlier process left it. */
  synchronized Run seedRun(
      String entity,
      String project,
      String name,
      List<String> history,
      String summary,
      String config) {
    Run r = new Run();
    r.id =
        Base64.getEncoder()
            .encodeToString(
                ("Run:v1:" + name + ":" + project + ":" + entity).getBytes(StandardCharsets.UTF_8));
    r.entity = entity;
    r.project = project;
    r.name = name;
    r.displayName = "seeded-run";
    r.config = config;
    r.file("wandb-history.jsonl").addAll(history);
    r.file("wandb-summary.json").add(summary);
    r.complete = true;
    r.completes = 1;
    r.exitcode = 0;
    runs.put(key(entity, project, name), r);
    return r;
  }

  synchronized List<Req> requests() {
    return List.copyOf(requests);
  }

  synchronized List<Req> fileStreamPosts() {
    return requests.stream().filter(Req::isFileStream).toList();
  }

  synchronized List<Req> graphql(String operation) {
    return requests.stream()
        .filter(r -> r.path().equals("/graphql") && r.operation().equals(operation))
        .toList();
  }

  synchronized Run run(String name) {
    for (Run r : runs.values()) {
      if (r.name.equals(name)) {
        return r;
      }
    }
    throw new AssertionError("no run " + name + " on the fake server; runs: " + runs.keySet());
  }

  synchronized List<String> violations() {
    return List.copyOf(violations);
  }

  /** Waits until a request matching {@code p} has arrived. */
  boolean awaitRequest(Predicate<Req> p, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      synchronized (this) {
        if (requests.stream().anyMatch(p)) {
          return true;
        }
        wait(20);
      }
    }
    return false;
  }

  @Override
  public void close() throws IOException {
    release();
    server.close();
  }

  // ------------------------------------------------------------------ handling

  private MockResponse handle(RecordedRequest request) throws InterruptedException {
    String path = request.getUrl().encodedPath();
    String body = request.getBody() == null ? "" : request.getBody().utf8();
    MockResponse response;
    CountDownLatch h;
    synchronized (this) {
      h = path.endsWith("/file_stream") ? hold : null;
      if (!expectedAuth.equals(request.getHeaders().get("Authorization"))) {
        response =
            new MockResponse.Builder()
                .code(401)
                .body("{\"errors\":[{\"message\":\"user is not logged in\"}]}")
                .build();
      } else if (path.equals("/graphql")) {
        response = graphql(Json.read(body));
      } else if (path.endsWith("/file_stream")) {
        MockResponse failure = fileStreamFailures.poll();
        response = failure != null ? failure : fileStream(path, Json.read(body));
      } else {
        response = new MockResponse.Builder().code(404).body("{}").build();
      }
      requests.add(
          new Req(request.getMethod(), path, request.getHeaders(), body, response.getCode()));
      notifyAll();
    }
    if (h != null) {
      held.countDown();
      h.await();
    }
    return response;
  }

  private static String key(String e, String p, String n) {
    return e + "/" + p + "/" + n;
  }

  private MockResponse ok(Object data) {
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.set("data", Json.MAPPER.valueToTree(data));
    return new MockResponse.Builder()
        .code(200)
        .addHeader("Content-Type", "application/json")
        .body(Json.write(root))
        .build();
  }

  private MockResponse graphql(JsonNode req) {
    String op = req.path("operationName").asText();
    JsonNode v = req.path("variables");
    switch (op) {
      case "UpsertBucket":
        {
          String e =
              v.path("entity").isNull() ? "fake-entity" : v.path("entity").asText("fake-entity");
          String p =
              v.path("project").isNull()
                  ? "uncategorized"
                  : v.path("project").asText("uncategorized");
          String n = v.path("name").asText();
          Run r = runs.get(key(e, p, n));
          boolean inserted = r == null;
          if (r == null) {
            r = new Run();
            r.id =
                Base64.getEncoder()
                    .encodeToString(
                        ("Run:v1:" + n + ":" + p + ":" + e).getBytes(StandardCharsets.UTF_8));
            r.entity = e;
            r.project = p;
            r.name = n;
            r.displayName = "fake-run-" + (++runCounter);
            runs.put(key(e, p, n), r);
          } else {
            r.complete = false; // a new session of the run
          }
          if (v.hasNonNull("config")) {
            r.config = v.get("config").asText();
          }
          if (v.hasNonNull("tags")) {
            r.tags = v.get("tags");
          }
          if (v.hasNonNull("displayName")) {
            r.displayName = v.get("displayName").asText();
          }
          if (v.hasNonNull("notes")) {
            r.notes = v.get("notes").asText();
          }
          Map<String, Object> bucket = new LinkedHashMap<>();
          bucket.put("id", r.id);
          bucket.put("name", r.name);
          bucket.put("displayName", r.displayName);
          bucket.put("description", null);
          bucket.put("config", r.config);
          bucket.put("sweepName", null);
          bucket.put(
              "project",
              Map.of(
                  "id",
                  "UHJvamVjdA==",
                  "name",
                  r.project,
                  "entity",
                  Map.of("id", "RW50aXR5OjE=", "name", r.entity)));
          bucket.put("historyLineCount", r.file("wandb-history.jsonl").size());
          Map<String, Object> upsert = new LinkedHashMap<>();
          upsert.put("bucket", bucket);
          upsert.put("inserted", inserted);
          return ok(Map.of("upsertBucket", upsert));
        }
      case "RunResumeStatus":
        {
          String e = v.path("entity").isNull() ? "fake-entity" : v.path("entity").asText();
          String p = v.path("project").asText("uncategorized");
          Run r = runs.get(key(e, p, v.path("name").asText()));
          Map<String, Object> model = new LinkedHashMap<>();
          model.put("id", "UHJvamVjdDox");
          model.put("name", p);
          model.put("entity", Map.of("id", "RW50aXR5OjE=", "name", e));
          if (r == null) {
            model.put("bucket", null);
          } else {
            List<String> h = r.file("wandb-history.jsonl");
            List<String> ev = r.file("wandb-events.jsonl");
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("id", r.id);
            b.put("name", r.name);
            b.put(
                "summaryMetrics",
                r.file("wandb-summary.json").isEmpty()
                    ? "{}"
                    : r.file("wandb-summary.json").get(0));
            b.put("displayName", r.displayName);
            b.put("logLineCount", r.file("output.log").size());
            b.put("historyLineCount", h.size());
            b.put("eventsLineCount", ev.size());
            b.put("historyTail", Json.write(h.subList(Math.max(0, h.size() - 10), h.size())));
            b.put("eventsTail", Json.write(ev.subList(Math.max(0, ev.size() - 10), ev.size())));
            b.put("config", r.config == null ? "{}" : r.config);
            b.put("tags", r.tags == null ? List.of() : r.tags);
            b.put("notes", r.notes);
            b.put("wandbConfig", "{\"t\": {}}");
            model.put("bucket", b);
          }
          return ok(Map.of("model", model));
        }
      case "Viewer":
        return ok(Map.of("viewer", Map.of("id", "VXNlcjox", "entity", "fake-entity")));
      case "ServerFeaturesQuery":
        return ok(Map.of("serverInfo", Map.of("features", List.of())));
      default:
        return ok(Map.of());
    }
  }

  private MockResponse fileStream(String path, JsonNode body) {
    String[] seg = path.split("/");
    String e = seg[2];
    String p = seg[3];
    String n = seg[4];
    Run r = runs.get(key(e, p, n));
    if (r == null) {
      violations.add("file_stream for unknown run " + path);
      return new MockResponse.Builder().code(404).body("{\"error\":\"run not found\"}").build();
    }
    if (r.complete) {
      violations.add("post after complete: " + Json.write(body));
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = body.path("files").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      List<String> lines = r.file(f.getKey());
      int offset = f.getValue().path("offset").asInt();
      if (offset > lines.size()) {
        violations.add(
            "gap in " + f.getKey() + ": offset " + offset + " but " + lines.size() + " lines");
      }
      int i = offset;
      for (JsonNode c : f.getValue().path("content")) {
        String line = c.asText();
        while (lines.size() < i) {
          lines.add(null);
        }
        if (i < lines.size()) {
          if (!f.getKey().equals("wandb-summary.json") && !line.equals(lines.get(i))) {
            violations.add(
                f.getKey() + " line " + i + " changed from " + lines.get(i) + " to " + line);
          }
          lines.set(i, line);
        } else {
          lines.add(line);
        }
        i++;
      }
      if (f.getKey().equals("wandb-history.jsonl")) {
        long prev = Long.MIN_VALUE;
        for (String l : lines) {
          long step = l == null ? Long.MIN_VALUE : Json.read(l).path("_step").asLong();
          if (step <= prev) {
            violations.add("history steps not increasing: " + lines);
            break;
          }
          prev = step;
        }
      }
    }
    if (body.path("preempting").asBoolean()) {
      r.preemptings++;
      if (body.path("complete").asBoolean() || body.has("files")) {
        violations.add("preempting post not on its own: " + Json.write(body));
      }
    }
    if (body.path("complete").asBoolean()) {
      r.completes++;
      r.complete = true;
      r.exitcode = body.path("exitcode").isNumber() ? body.path("exitcode").asInt() : null;
    }
    return new MockResponse.Builder()
        .code(200)
        .addHeader("Content-Type", "application/json")
        .body("{\"exitcode\":null,\"limits\":{}}")
        .build();
  }
}
