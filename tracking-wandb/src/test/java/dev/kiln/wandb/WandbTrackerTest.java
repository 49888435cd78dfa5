package dev.kiln.wandb;

import static dev.kiln.wandb.Fixtures.KEY;
import static dev.kiln.wandb.Fixtures.config;
import static dev.kiln.wandb.Fixtures.end;
import static dev.kiln.wandb.Fixtures.start;
import static dev.kiln.wandb.Fixtures.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import dev.kiln.wandb.internal.Json;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WandbTrackerTest {
  @TempDir Path dir;
  FakeWandbServer server;
  Fixtures.LogCapture logs;
  final List<String> exceptionMessages = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    logs = new Fixtures.LogCapture();
    server = new FakeWandbServer(KEY).start();
  }

  @AfterEach
  void keyNeverWritten() throws Exception {
    server.close();
    logs.close();
    assertThat(logs.text()).as("log output").doesNotContain(KEY);
    assertThat(Fixtures.allFiles(dir)).as("files under the run directory").doesNotContain(KEY);
    assertThat(String.join("\n", exceptionMessages)).doesNotContain(KEY);
  }

  /** Spools, offline, a session of {@code runId} stopped after step 5; returns its config. */
  private WandbConfig interruptedOfflineSession(String runId) throws Exception {
    WandbConfig offline = config(server.url()).mode(WandbConfig.Mode.OFFLINE).build();
    WandbTracker tracker = WandbTracker.builder(offline).build();
    tracker.runStarted(start(dir, runId));
    for (int s = 1; s <= 5; s++) {
      tracker.metrics(step(s, 1.0 / s));
    }
    tracker.runEnded(end(RunEnd.Outcome.INTERRUPTED, 5));
    tracker.close();
    return offline;
  }

  private static List<Long> steps(FakeWandbServer.Run run) {
    return run.history().stream().map(h -> h.get("_step").asLong()).toList();
  }

  @Test
  void aNormalRunSendsRunConfigHistorySummaryAndCompleteOnceLast() throws Exception {
    WandbConfig cfg =
        config(server.url())
            .tags(List.of("a", "b"))
            .notes("some notes")
            .group("g1")
            .jobType("train")
            .build();
    WandbTracker tracker = WandbTracker.builder(cfg).build();
    tracker.runStarted(start(dir, "abcd1234"));
    for (int s = 1; s <= 5; s++) {
      tracker.metrics(step(s, 1.0 / s));
    }
    tracker.summary(new Summary(5, Map.of("best_loss", 0.2)));
    tracker.flush();
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 5));
    tracker.close();

    String auth =
        "Basic "
            + Base64.getEncoder().encodeToString(("api:" + KEY).getBytes(StandardCharsets.UTF_8));
    assertThat(server.requests())
        .allSatisfy(r -> assertThat(r.headers().get("Authorization")).isEqualTo(auth));
    JsonNode vars = server.graphql("UpsertBucket").get(0).json().get("variables");
    assertThat(vars.get("name").asText()).isEqualTo("abcd1234");
    assertThat(vars.get("project").asText()).isEqualTo("p");
    assertThat(vars.get("entity").isNull()).isTrue();
    assertThat(vars.get("id").isNull()).isTrue();
    assertThat(vars.get("displayName").asText()).isEqualTo("run-abcd1234");
    assertThat(vars.get("notes").asText()).isEqualTo("some notes");
    assertThat(vars.get("groupName").asText()).isEqualTo("g1");
    assertThat(vars.get("jobType").asText()).isEqualTo("train");
    assertThat(vars.get("tags").toString()).isEqualTo("[\"a\",\"b\"]");
    assertThat(vars.get("host").asText()).isNotBlank();
    assertThat(vars.get("program").asText()).isNotBlank();
    JsonNode config = Json.read(vars.get("config").asText());
    assertThat(config.get("lr").get("value").asDouble()).isEqualTo(0.1);
    assertThat(config.get("batch_size").get("value").asInt()).isEqualTo(64);
    assertThat(config.get("_wandb").get("value").has("t")).isTrue();

    FakeWandbServer.Run run = server.run("abcd1234");
    assertThat(server.violations()).isEmpty();
    assertThat(steps(run)).containsExactly(1L, 2L, 3L, 4L, 5L);
    JsonNode row = run.history().get(2);
    assertThat(row.get("train_loss").asDouble()).isEqualTo(1.0 / 3);
    assertThat(row.get("_runtime").asDouble()).isEqualTo(0.3);
    assertThat(row.get("_timestamp").asDouble()).isEqualTo(Fixtures.T0.getEpochSecond() + 0.3);
    JsonNode summary = run.summary();
    assertThat(summary.get("train_loss").asDouble()).isEqualTo(0.2);
    assertThat(summary.get("best_loss").asDouble()).isEqualTo(0.2);
    assertThat(summary.get("_step").asLong()).isEqualTo(5);
    assertThat(summary.get("_wandb").get("runtime").isIntegralNumber()).isTrue();
    assertThat(run.completes).isEqualTo(1);
    assertThat(run.exitcode).isZero();
    List<FakeWandbServer.Req> posts = server.fileStreamPosts();
    assertThat(posts.get(posts.size() - 1).json().get("complete").asBoolean()).isTrue();
    assertThat(posts.get(posts.size() - 1).json().get("exitcode").asInt()).isZero();
    for (FakeWandbServer.Req p : posts) {
      assertThat(p.json().path("files").path("wandb-summary.json").path("offset").asInt(0))
          .isZero();
    }
    assertThat(server.requests().get(server.requests().size() - 1).isFileStream()).isTrue();
    assertThat(logs.count("W&B run run-abcd1234: " + server.url() + "/fake-entity/p/runs/abcd1234"))
        .isEqualTo(1);
  }

  @Test
  void aFailedRunEndsWithANonZeroExitCode() throws Exception {
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "fail0001"));
    tracker.metrics(step(1, 1.0));
    tracker.runEnded(end(RunEnd.Outcome.FAILED, 1));
    tracker.close();

    FakeWandbServer.Run run = server.run("fail0001");
    assertThat(run.completes).isEqualTo(1);
    assertThat(run.exitcode).isEqualTo(1);
    assertThat(steps(run)).containsExactly(1L);
  }

  @Test
  void anInterruptedRunIsMarkedPreemptingOnItsOwnBeforeItsFinalPostWithANonZeroExitCode()
      throws Exception {
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "spot0001"));
    tracker.metrics(step(1, 1.0));
    tracker.metrics(step(2, 0.5));
    tracker.runEnded(end(RunEnd.Outcome.INTERRUPTED, 2));
    tracker.close();

    FakeWandbServer.Run run = server.run("spot0001");
    assertThat(server.violations()).isEmpty();
    assertThat(run.preemptings).isEqualTo(1);
    assertThat(run.exitcode).isEqualTo(255);
    assertThat(steps(run)).containsExactly(1L, 2L);
    List<FakeWandbServer.Req> posts = server.fileStreamPosts();
    JsonNode last = posts.get(posts.size() - 1).json();
    JsonNode beforeLast = posts.get(posts.size() - 2).json();
    assertThat(beforeLast.get("preempting").asBoolean()).isTrue();
    assertThat(beforeLast.get("complete").asBoolean()).isFalse();
    assertThat(last.get("complete").asBoolean()).isTrue();
    assertThat(last.has("preempting")).isFalse();
  }

  @Test
  void aStopRequestMarksTheRunPreemptingAtOnceAndItsEndDoesNotMarkItAgain() throws Exception {
    // An hour between data posts: only the stop request can make the mark go out before the end.
    WandbConfig cfg = config(server.url()).transmitInterval(Duration.ofHours(1)).build();
    WandbTracker tracker = WandbTracker.builder(cfg).build();
    tracker.runStarted(start(dir, "stop0001"));
    tracker.metrics(step(1, 1.0));
    tracker.flush();
    assertThat(
            server.awaitRequest(
                r -> r.isFileStream() && r.json().has("files"), Duration.ofSeconds(10)))
        .isTrue();

    tracker.stopRequested(new StopRequest("SIGTERM", 1, 0, Fixtures.T0.plusSeconds(1)));

    assertThat(
            server.awaitRequest(
                r -> r.isFileStream() && r.json().path("preempting").asBoolean(),
                Duration.ofSeconds(10)))
        .isTrue();
    assertThat(server.run("stop0001").complete).isFalse();
    tracker.runEnded(end(RunEnd.Outcome.INTERRUPTED, 1));
    tracker.close();
    FakeWandbServer.Run run = server.run("stop0001");
    assertThat(server.violations()).isEmpty();
    assertThat(run.preemptings).isEqualTo(1);
    assertThat(run.completes).isEqualTo(1);
    assertThat(run.exitcode).isEqualTo(255);
  }

  @Test
  void aSyncedInterruptedRunPostsItsDataThenPreemptingAloneThenItsEndAndASecondSyncSendsNothing()
      throws Exception {
    WandbConfig offline = interruptedOfflineSession("syncp001");
    WandbConfig online = offline.toBuilder().mode(WandbConfig.Mode.ONLINE).build();

    assertThat(Sync.sync(dir, online, new OkHttpClient(), Duration.ofSeconds(20))).isTrue();

    FakeWandbServer.Run run = server.run("syncp001");
    assertThat(server.violations()).isEmpty();
    List<FakeWandbServer.Req> posts = server.fileStreamPosts();
    assertThat(posts).hasSize(3);
    assertThat(posts.get(0).json().has("files")).isTrue();
    assertThat(posts.get(0).json().has("preempting")).isFalse();
    assertThat(posts.get(1).json().get("preempting").asBoolean()).isTrue();
    assertThat(posts.get(2).json().get("complete").asBoolean()).isTrue();
    assertThat(run.preemptings).isEqualTo(1);
    assertThat(run.exitcode).isEqualTo(255);
    assertThat(steps(run)).containsExactly(1L, 2L, 3L, 4L, 5L);

    assertThat(Sync.sync(dir, online, new OkHttpClient(), Duration.ofSeconds(20))).isTrue();
    assertThat(server.fileStreamPosts()).hasSize(3);
  }

  @Test
  void aRunResumedAfterAnInterruptedSessionThatNeverReachedWandbIsNotMarkedPreempting()
      throws Exception {
    interruptedOfflineSession("resp0001");

    WandbTracker resumed = WandbTracker.builder(config(server.url()).build()).build();
    resumed.runStarted(start(dir, "resp0001", Optional.of(new ResumeInfo(5, 1, "s5")), Map.of()));
    for (int s = 6; s <= 8; s++) {
      resumed.metrics(step(s, 1.0 / s));
    }
    resumed.runEnded(end(RunEnd.Outcome.FINISHED, 8));
    resumed.close();

    FakeWandbServer.Run run = server.run("resp0001");
    assertThat(server.violations()).isEmpty();
    assertThat(run.preemptings).isZero();
    assertThat(run.completes).isEqualTo(1);
    assertThat(run.exitcode).isZero();
  }

  @Test
  void finishedAndFailedRunsAreNeverMarkedPreempting() throws Exception {
    for (RunEnd.Outcome outcome : List.of(RunEnd.Outcome.FINISHED, RunEnd.Outcome.FAILED)) {
      WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
      String id = outcome == RunEnd.Outcome.FINISHED ? "done0001" : "fail0002";
      tracker.runStarted(start(dir.resolve(id), id));
      tracker.metrics(step(1, 1.0));
      tracker.runEnded(end(outcome, 1));
      tracker.close();

      assertThat(server.run(id).preemptings).as(outcome.name()).isZero();
      assertThat(server.run(id).completes).as(outcome.name()).isEqualTo(1);
    }
  }

  @Test
  void retriesAfter500_500_429ResendTheIdenticalBodyWithBackoffAndRetryAfter() throws Exception {
    server.failFileStream(
        FakeWandbServer.status(500), FakeWandbServer.status(500), FakeWandbServer.status(429, "1"));
    List<Duration> waits = Collections.synchronizedList(new ArrayList<>());
    WandbConfig cfg =
        config(server.url())
            .retryBaseDelay(Duration.ofSeconds(2))
            .retryMaxDelay(Duration.ofSeconds(60))
            .build();
    WandbTracker tracker = WandbTracker.builder(cfg).sleeper(waits::add).build();
    tracker.runStarted(start(dir, "retry001"));
    tracker.metrics(step(1, 1.0));
    tracker.metrics(step(2, 0.5));
    tracker.metrics(step(3, 0.25));
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 3));
    tracker.close();

    List<FakeWandbServer.Req> posts = server.fileStreamPosts();
    assertThat(posts.get(0).status()).isEqualTo(500);
    assertThat(posts.get(1).status()).isEqualTo(500);
    assertThat(posts.get(2).status()).isEqualTo(429);
    assertThat(posts.get(3).status()).isEqualTo(200);
    assertThat(posts.get(1).body()).isEqualTo(posts.get(0).body());
    assertThat(posts.get(2).body()).isEqualTo(posts.get(0).body());
    assertThat(posts.get(3).body()).isEqualTo(posts.get(0).body());
    assertThat(waits).hasSize(3);
    assertThat(waits.get(0)).isBetween(Duration.ofSeconds(2), Duration.ofMillis(2500));
    assertThat(waits.get(1)).isBetween(Duration.ofSeconds(4), Duration.ofSeconds(5));
    assertThat(waits.get(2)).isEqualTo(Duration.ofSeconds(1));
    FakeWandbServer.Run run = server.run("retry001");
    assertThat(server.violations()).isEmpty();
    assertThat(steps(run)).containsExactly(1L, 2L, 3L);
    assertThat(run.completes).isEqualTo(1);
    assertThat(logs.count("is not accepting uploads")).isEqualTo(1);
  }

  @Test
  void aServerDownForTheWholeRunGetsEverythingOnceWhenItComesUp() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + port;
    WandbTracker tracker = WandbTracker.builder(config(url).build()).build();
    tracker.runStarted(start(dir, "down0001"));
    for (int s = 1; s <= 50; s++) {
      tracker.metrics(step(s, 1.0 / s));
    }
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 50));
    assertThat(
            Fixtures.await(
                () -> logs.count("is not accepting uploads") > 0, Duration.ofSeconds(20)))
        .isTrue();
    server.close();
    try (FakeWandbServer late = new FakeWandbServer(KEY).start(port)) {
      tracker.close();
      FakeWandbServer.Run run = late.run("down0001");
      assertThat(late.violations()).isEmpty();
      assertThat(steps(run))
          .hasSize(50)
          .isSorted()
          .doesNotHaveDuplicates()
          .startsWith(1L)
          .endsWith(50L);
      assertThat(run.completes).isEqualTo(1);
    }
    assertThat(logs.count("is not accepting uploads")).isEqualTo(1);
    assertThat(logs.count("accepts uploads again")).isEqualTo(1);
    server = new FakeWandbServer(KEY).start();
  }

  @Test
  void callsReturnWhileTheServerHoldsARequest() throws Exception {
    server.holdFileStream();
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "slow0001"));
    tracker.metrics(step(1, 1.0));
    tracker.metrics(step(2, 1.0));
    assertThat(server.awaitHeld(Duration.ofSeconds(20))).isTrue();

    for (int s = 3; s <= 200; s++) {
      tracker.metrics(step(s, 1.0 / s));
      tracker.summary(new Summary(s, Map.of("best", 1.0 / s)));
    }
    tracker.flush();
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 200));
    assertThat(server.holding()).as("the server still holds the first post").isTrue();
    assertThat(server.fileStreamPosts()).hasSize(1);

    server.release();
    tracker.close();
    FakeWandbServer.Run run = server.run("slow0001");
    assertThat(server.violations()).isEmpty();
    assertThat(steps(run)).hasSize(200).isSorted();
    assertThat(run.completes).isEqualTo(1);
  }

  @Test
  void aRejectedKeyIsReportedOnceWithWhatToDoAndTrainingGoesOn() throws Exception {
    server.close();
    server = new FakeWandbServer("another-key").start();
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "badkey01"));
    for (int s = 1; s <= 5; s++) {
      tracker.metrics(step(s, 1.0));
    }
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 5));
    tracker.close();

    assertThat(
            logs.count(
                "W&B rejected the API key for "
                    + server.url()
                    + " (HTTP 401) — check WANDB_API_KEY or run offline with WANDB_MODE=offline"))
        .isEqualTo(1);
    assertThat(Files.readString(dir.resolve("wandb/spool.jsonl")).lines().count()).isEqualTo(7);
  }

  @Test
  void aRejectedKeyFailsRunStartWhenConfiguredTo() throws Exception {
    server.close();
    server = new FakeWandbServer("another-key").start();
    WandbTracker tracker =
        WandbTracker.builder(config(server.url()).failOnError(true).build()).build();
    assertThatThrownBy(() -> tracker.runStarted(start(dir, "badkey02")))
        .satisfies(e -> exceptionMessages.add(e.getMessage()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "W&B rejected the API key for "
                + server.url()
                + " (HTTP 401) — check WANDB_API_KEY or run offline with WANDB_MODE=offline");
    tracker.close();
  }

  @Test
  void aMissingKeyIsReportedAndRecordsAreSpooled() throws Exception {
    WandbConfig cfg =
        config(server.url()).build().toBuilder().netrcFile(dir.resolve("no-netrc")).build();
    WandbConfig noKey =
        WandbConfig.builder()
            .environment(Map.of("WANDB_BASE_URL", server.url()))
            .netrcFile(dir.resolve("no-netrc"))
            .systemMetrics(false)
            .build();
    assertThat(cfg.apiKey()).isPresent();
    WandbTracker tracker = WandbTracker.builder(noKey).build();
    tracker.runStarted(start(dir, "nokey001"));
    tracker.metrics(step(1, 1.0));
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 1));
    tracker.close();
    assertThat(server.requests()).isEmpty();
    assertThat(logs.count("No W&B API key for " + server.url())).isEqualTo(1);
  }

  @Test
  void aFatalStatusOnFileStreamStopsUploadingAndKeepsTheSpool() throws Exception {
    server.failFileStream(FakeWandbServer.status(400));
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "fatal001"));
    tracker.metrics(step(1, 1.0));
    tracker.metrics(step(2, 1.0));
    assertThat(server.awaitRequest(FakeWandbServer.Req::isFileStream, Duration.ofSeconds(20)))
        .isTrue();
    tracker.metrics(step(3, 1.0));
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 3));
    tracker.close();
    assertThat(server.fileStreamPosts()).hasSize(1);
    assertThat(logs.count("W&B refused an upload for run fatal001 (HTTP 400")).isEqualTo(1);
    assertThat(logs.text()).contains("dev.kiln.wandb.Sync " + dir);
  }

  @Test
  void atMostOneDataPostPerIntervalWithTheRestAtFinish() throws Exception {
    WandbConfig cfg = config(server.url()).transmitInterval(Duration.ofHours(1)).build();
    WandbTracker tracker = WandbTracker.builder(cfg).build();
    tracker.runStarted(start(dir, "batch001"));
    tracker.metrics(step(1, 1.0));
    assertThat(server.awaitRequest(FakeWandbServer.Req::isFileStream, Duration.ofSeconds(20)))
        .isTrue();
    for (int s = 2; s <= 100; s++) {
      tracker.metrics(step(s, 1.0));
    }
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 100));
    tracker.close();
    assertThat(server.fileStreamPosts()).hasSize(2);
    assertThat(steps(server.run("batch001"))).hasSize(100);
    assertThat(server.violations()).isEmpty();
  }

  @Test
  void anIdleRunSendsEmptyHeartbeats() throws Exception {
    WandbConfig cfg =
        config(server.url())
            .transmitInterval(Duration.ofMillis(10))
            .heartbeatInterval(Duration.ofMillis(100))
            .build();
    WandbTracker tracker = WandbTracker.builder(cfg).build();
    tracker.runStarted(start(dir, "beat0001"));
    tracker.metrics(step(1, 1.0));
    assertThat(
            server.awaitRequest(
                r ->
                    r.isFileStream()
                        && r.body().equals("{}")
                        && server.fileStreamPosts().stream()
                                .filter(p -> p.body().equals("{}"))
                                .count()
                            >= 2,
                Duration.ofSeconds(20)))
        .isTrue();
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 1));
    tracker.close();
    assertThat(server.run("beat0001").completes).isEqualTo(1);
  }

  @Test
  void systemMetricsGoToTheEventsFile() throws Exception {
    WandbConfig cfg =
        config(server.url()).systemMetrics(true).statsInterval(Duration.ofMillis(20)).build();
    WandbTracker tracker = WandbTracker.builder(cfg).build();
    tracker.runStarted(start(dir, "stats001"));
    tracker.metrics(step(1, 1.0));
    assertThat(
            server.awaitRequest(
                r -> r.isFileStream() && r.body().contains("wandb-events.jsonl"),
                Duration.ofSeconds(20)))
        .isTrue();
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 1));
    tracker.close();
    List<String> events = server.run("stats001").file("wandb-events.jsonl");
    JsonNode first = Json.read(events.get(0));
    assertThat(first.has("system.memory_percent")).isTrue();
    assertThat(first.get("_wandb").asBoolean()).isTrue();
    assertThat(first.has("_runtime")).isTrue();
    assertThat(server.violations()).isEmpty();
  }

  @Test
  void recordsAtTheSameStepAreMergedIntoOneRow() throws Exception {
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "merge001"));
    tracker.metrics(step(1, 1.0));
    tracker.metrics(
        new MetricsRecord(
            MetricsRecord.Kind.EPOCH,
            1,
            1,
            Fixtures.T0.plusSeconds(1),
            Map.of("test_acc", 0.9),
            Map.of("verdict", "ok")));
    tracker.metrics(step(2, 0.5));
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 2));
    tracker.close();
    List<JsonNode> h = server.run("merge001").history();
    assertThat(h).hasSize(2);
    assertThat(h.get(0).get("train_loss").asDouble()).isEqualTo(1.0);
    assertThat(h.get(0).get("test_acc").asDouble()).isEqualTo(0.9);
    assertThat(h.get(0).get("verdict").asText()).isEqualTo("ok");
  }

  @Test
  void nanAndInfinityAreSentAsBareTokens() throws Exception {
    WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
    tracker.runStarted(start(dir, "nan00001"));
    tracker.metrics(
        new MetricsRecord(
            MetricsRecord.Kind.STEP,
            1,
            1,
            Fixtures.T0,
            Map.of("a", Double.NaN, "b", Double.POSITIVE_INFINITY),
            Map.of()));
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 1));
    tracker.close();
    String line = server.run("nan00001").file("wandb-history.jsonl").get(0);
    assertThat(line).contains("\"a\":NaN").contains("\"b\":Infinity");
  }

  @Test
  void offlineModeMakesNoRequestsAndSyncUploadsTheSpoolOnce() throws Exception {
    WandbConfig offline = config(server.url()).mode(WandbConfig.Mode.OFFLINE).build();
    WandbTracker tracker = WandbTracker.builder(offline).build();
    tracker.runStarted(start(dir, "offline1"));
    for (int s = 1; s <= 10; s++) {
      tracker.metrics(step(s, 1.0 / s));
    }
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 10));
    tracker.close();
    assertThat(server.requests()).isEmpty();
    assertThat(logs.text()).contains("dev.kiln.wandb.Sync " + dir);

    WandbConfig online = offline.toBuilder().mode(WandbConfig.Mode.ONLINE).build();
    assertThat(Sync.sync(dir, online, new OkHttpClient(), Duration.ofSeconds(20))).isTrue();
    FakeWandbServer.Run run = server.run("offline1");
    assertThat(steps(run)).hasSize(10);
    assertThat(run.completes).isEqualTo(1);
    int posts = server.fileStreamPosts().size();

    assertThat(Sync.sync(dir, online, new OkHttpClient(), Duration.ofSeconds(20))).isTrue();
    assertThat(server.fileStreamPosts()).hasSize(posts);
    assertThat(server.violations()).isEmpty();
  }

  @Test
  void disabledModeWritesNothing() throws Exception {
    WandbTracker tracker =
        WandbTracker.builder(config(server.url()).mode(WandbConfig.Mode.DISABLED).build()).build();
    tracker.runStarted(start(dir, "disabled"));
    tracker.metrics(step(1, 1.0));
    tracker.runEnded(end(RunEnd.Outcome.FINISHED, 1));
    tracker.close();
    assertThat(server.requests()).isEmpty();
    assertThat(dir.resolve("wandb")).doesNotExist();
  }

  @Test
  void theProviderIsFoundByNameAndReadsSettings() throws Exception {
    var providers =
        java.util.ServiceLoader.load(dev.kiln.tracking.ExperimentTrackerProvider.class).stream()
            .map(java.util.ServiceLoader.Provider::get)
            .collect(Collectors.toMap(p -> p.name(), p -> p));
    assertThat(providers).containsKey("wandb");
    var ctx =
        new dev.kiln.tracking.TrackerContext(
            dir,
            Map.of("WANDB_MODE", "offline", "WANDB_PROJECT", "from-settings", "WANDB_API_KEY", KEY),
            java.time.Clock.systemUTC());
    WandbTracker t = (WandbTracker) providers.get("wandb").create(ctx);
    assertThat(t.config().mode()).isEqualTo(WandbConfig.Mode.OFFLINE);
    assertThat(t.config().project()).isEqualTo("from-settings");
    assertThat(t.config().toString()).doesNotContain(KEY);
    t.close();
  }
}
