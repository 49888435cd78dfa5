package dev.kiln.wandb;

import static dev.kiln.wandb.Fixtures.KEY;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.wandb.internal.Json;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replays the captured scenario of the official client (wandb 0.30.0, {@code
 * captures/py-0.30.0-new-then-resume.json}, requests 1–12: config {@code lr}/{@code batch_size},
 * steps 1–3, finish) and compares our requests with the capture field by field.
 *
 * <p>Documented differences, and only these, are allowed:
 *
 * <ol>
 *   <li>No {@code Viewer} or {@code ServerFeaturesQuery}: both optional (spec §4.2, §4.3); {@code
 *       UpsertBucket} accepts a null entity.
 *   <li>No second {@code UpsertBucket} with environment info, no {@code CreateRunFiles} and no file
 *       {@code PUT}s, hence no {@code uploaded} list: run files are optional (spec §4.7).
 *   <li>No {@code output.log}: Kiln's tracker does not capture the console.
 *   <li>{@code displayName} is Kiln's run name instead of null; {@code host} and {@code program}
 *       describe this JVM.
 *   <li>{@code config._wandb.value} holds {@code t} (empty), {@code m}, the client and Java version
 *       instead of Python telemetry.
 *   <li>{@code _runtime} and {@code _timestamp} values come from the run's clock; numbers are
 *       written by Jackson ({@code 1.0}, {@code 1.79E9}), compared numerically.
 *   <li>{@code User-Agent} is {@code W&B Java Client …}; no {@code X-Wandb-Username}/{@code
 *       X-Wandb-User-Email} headers.
 *   <li>Data posts are split by the transmit interval differently (ours may post the first rows
 *       before the final post); the server-side files and the final post's flags are compared.
 *   <li>Whitespace of the GraphQL query text.
 * </ol>
 */
class CaptureConformanceTest {
  @TempDir Path dir;

  @Test
  void theCapturedScenarioMatchesTheOfficialClientExceptForDocumentedDifferences()
      throws Exception {
    JsonNode capture;
    try (InputStream in =
        getClass().getResourceAsStream("/captures/py-0.30.0-new-then-resume.json")) {
      capture = Json.MAPPER.readTree(in);
    }
    JsonNode capUpsert = request(capture, 3);
    JsonNode capFinal = request(capture, 12);

    try (FakeWandbServer server = new FakeWandbServer(KEY).start()) {
      WandbConfig cfg =
          Fixtures.config(server.url())
              .project("capture-demo")
              .transmitInterval(Duration.ofSeconds(15))
              .build();
      WandbTracker tracker = WandbTracker.builder(cfg).build();
      Map<String, Object> config = new LinkedHashMap<>();
      config.put("lr", 1.0);
      config.put("batch_size", 64);
      tracker.runStarted(Fixtures.start(dir, "zgi210gg", Optional.empty(), config));
      double[][] values = {{1, 0.6, 0.25}, {0.5, 0.7, 0.5}, {1.0 / 3, 0.8, 0.75}};
      for (int s = 1; s <= 3; s++) {
        double[] v = values[s - 1];
        tracker.metrics(
            new MetricsRecord(
                MetricsRecord.Kind.STEP,
                s,
                1,
                Fixtures.T0.plusMillis(300L * s),
                Map.of("test_loss", v[0], "test_acc", v[1], "time_taken", v[2]),
                Map.of()));
      }
      tracker.runEnded(Fixtures.end(RunEnd.Outcome.FINISHED, 3));
      tracker.close();

      // Sequence: only UpsertBucket and file_stream posts (differences 1, 2).
      List<FakeWandbServer.Req> reqs = server.requests();
      assertThat(reqs.get(0).operation()).isEqualTo("UpsertBucket");
      assertThat(reqs.subList(1, reqs.size()))
          .allSatisfy(r -> assertThat(r.isFileStream()).isTrue());

      // Headers (difference 7).
      for (FakeWandbServer.Req r : reqs) {
        String auth = r.headers().get("Authorization");
        assertThat(
                new String(
                    Base64.getDecoder().decode(auth.substring("Basic ".length())),
                    StandardCharsets.UTF_8))
            .isEqualTo("api:" + KEY);
        assertThat(r.headers().get("Content-Type")).startsWith("application/json");
        assertThat(r.method()).isEqualTo("POST");
      }

      // UpsertBucket, field by field.
      JsonNode ours = reqs.get(0).json();
      assertThat(ours.get("operationName").asText())
          .isEqualTo(capUpsert.get("operationName").asText());
      assertThat(ours.get("query").asText().replaceAll("\\s+", ""))
          .isEqualTo(capUpsert.get("query").asText().replaceAll("\\s+", ""));
      JsonNode ov = ours.get("variables");
      JsonNode cv = capUpsert.get("variables");
      assertThat(fieldNames(ov)).isEqualTo(fieldNames(cv));
      Set<String> differing = Set.of("displayName", "host", "program", "config");
      for (String f : fieldNames(cv)) {
        if (!differing.contains(f)) {
          assertThat(ov.get(f)).as("UpsertBucket variable %s", f).isEqualTo(cv.get(f));
        }
      }
      assertThat(ov.get("displayName").asText()).isEqualTo("run-zgi210gg");
      assertThat(ov.get("host").isTextual()).isTrue();
      assertThat(ov.get("program").isTextual()).isTrue();
      JsonNode oc = Json.read(ov.get("config").asText());
      JsonNode cc = Json.read(cv.get("config").asText());
      assertThat(fieldNames(oc)).isEqualTo(fieldNames(cc));
      assertThat(oc.get("lr").get("value").asDouble())
          .isEqualTo(cc.get("lr").get("value").asDouble());
      assertThat(oc.get("batch_size").get("value").asDouble())
          .isEqualTo(cc.get("batch_size").get("value").asDouble());
      assertThat(oc.get("_wandb").get("value").has("t")).isTrue();
      assertThat(oc.get("_wandb").get("value").has("m")).isTrue();

      // file_stream path.
      String capPath = captureRequest(capture, 12).get("path").asText();
      assertThat(reqs.get(reqs.size() - 1).path()).isEqualTo(capPath);

      // History lines as the server holds them, against the capture's (difference 6, 8).
      FakeWandbServer.Run run = server.run("zgi210gg");
      assertThat(server.violations()).isEmpty();
      List<JsonNode> capHistory = new ArrayList<>();
      for (JsonNode l : capFinal.get("files").get("wandb-history.jsonl").get("content")) {
        capHistory.add(Json.read(l.asText()));
      }
      assertThat(capFinal.get("files").get("wandb-history.jsonl").get("offset").asInt()).isZero();
      assertThat(
              server
                  .fileStreamPosts()
                  .get(0)
                  .json()
                  .get("files")
                  .path("wandb-history.jsonl")
                  .path("offset")
                  .asInt(0))
          .isZero();
      List<JsonNode> ourHistory = run.history();
      assertThat(ourHistory).hasSameSizeAs(capHistory);
      for (int i = 0; i < capHistory.size(); i++) {
        sameExceptTime(ourHistory.get(i), capHistory.get(i), "history line " + i);
      }

      // Summary: whole object at offset 0, same keys, same metric values.
      JsonNode capSummaryFile = capFinal.get("files").get("wandb-summary.json");
      assertThat(capSummaryFile.get("offset").asInt()).isZero();
      JsonNode capSummary = Json.read(capSummaryFile.get("content").get(0).asText());
      sameExceptTime(run.summary(), capSummary, "summary");
      assertThat(run.summary().get("_wandb").get("runtime").isIntegralNumber()).isTrue();

      // Final post: complete and exit code, last and once (differences 2, 3).
      JsonNode ourFinal = reqs.get(reqs.size() - 1).json();
      assertThat(ourFinal.get("complete")).isEqualTo(capFinal.get("complete"));
      assertThat(ourFinal.get("exitcode")).isEqualTo(capFinal.get("exitcode"));
      Set<String> allowedMissing = Set.of("uploaded");
      Set<String> capKeys = fieldNames(capFinal);
      capKeys.removeAll(allowedMissing);
      assertThat(fieldNames(ourFinal)).isEqualTo(capKeys);
      assertThat(fieldNames(ourFinal.get("files"))).doesNotContain("output.log");
      assertThat(run.completes).isEqualTo(1);
    }
  }

  private static void sameExceptTime(JsonNode ours, JsonNode theirs, String what) {
    assertThat(fieldNames(ours)).as(what + " keys").isEqualTo(fieldNames(theirs));
    for (String f : fieldNames(theirs)) {
      if (f.equals("_runtime") || f.equals("_timestamp") || f.equals("_wandb")) {
        assertThat(ours.get(f).isNumber() || ours.get(f).isObject()).as(what + " " + f).isTrue();
      } else {
        assertThat(ours.get(f).asDouble()).as(what + " " + f).isEqualTo(theirs.get(f).asDouble());
      }
    }
  }

  private static Set<String> fieldNames(JsonNode n) {
    Set<String> out = new HashSet<>();
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      out.add(it.next());
    }
    return out;
  }

  private static JsonNode captureRequest(JsonNode capture, int seq) {
    for (JsonNode r : capture.get("requests")) {
      if (r.get("seq").asInt() == seq) {
        return r;
      }
    }
    throw new AssertionError("no request " + seq + " in the capture");
  }

  private static JsonNode request(JsonNode capture, int seq) {
    return captureRequest(capture, seq).get("body");
  }
}
