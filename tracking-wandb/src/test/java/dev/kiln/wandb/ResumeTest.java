package dev.kiln.wandb;

import static dev.kiln.wandb.Fixtures.KEY;
import static dev.kiln.wandb.Fixtures.config;
import static dev.kiln.wandb.Fixtures.end;
import static dev.kiln.wandb.Fixtures.step;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.wandb.internal.Json;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResumeTest {
  @TempDir Path dir;

  private static final List<String> OLD_HISTORY =
      List.of(
          "{\"loss\":1,\"_step\":1,\"_runtime\":10.0,\"_timestamp\":1.7e9}",
          "{\"loss\":0.5,\"_step\":2,\"_runtime\":20.0,\"_timestamp\":1.7e9}",
          "{\"loss\":0.3,\"_step\":3,\"_runtime\":30.0,\"_timestamp\":1.7e9}");

  @Test
  void aResumedRunContinuesOffsetsAndSkipsStepsTheServerHas() throws Exception {
    try (FakeWandbServer server = new FakeWandbServer(KEY).start()) {
      FakeWandbServer.Run old =
          server.seedRun(
              "fake-entity",
              "p",
              "resume01",
              OLD_HISTORY,
              "{\"loss\":0.3,\"old_best\":0.3,\"_step\":3,\"_runtime\":30.0,\"_wandb\":{\"runtime\":30}}",
              "{\"old_key\":{\"value\":\"kept\"},\"lr\":{\"value\":0.5}}");
      // Another machine: no local spool. Kiln resumes from a checkpoint at step 2 and re-emits
      // 3..5.
      WandbTracker tracker = WandbTracker.builder(config(server.url()).build()).build();
      tracker.runStarted(
          Fixtures.start(
              dir, "resume01", Optional.of(new ResumeInfo(2, 1, "step-2")), Map.of("lr", 0.1)));
      for (int s = 3; s <= 5; s++) {
        tracker.metrics(step(s, 1.0 / s));
      }
      tracker.runEnded(end(RunEnd.Outcome.FINISHED, 5));
      tracker.close();

      assertThat(server.violations()).isEmpty();
      JsonNode status = server.graphql("RunResumeStatus").get(0).json().get("variables");
      assertThat(status.get("name").asText()).isEqualTo("resume01");
      JsonNode upsert = server.graphql("UpsertBucket").get(0).json().get("variables");
      assertThat(upsert.get("id").asText()).isEqualTo(old.id);
      JsonNode cfg = Json.read(upsert.get("config").asText());
      assertThat(cfg.get("lr").get("value").asDouble()).isEqualTo(0.1);
      assertThat(cfg.get("old_key").get("value").asText()).isEqualTo("kept");

      FakeWandbServer.Run run = server.run("resume01");
      List<JsonNode> h = run.history();
      assertThat(h.stream().map(n -> n.get("_step").asLong()).toList())
          .containsExactly(1L, 2L, 3L, 4L, 5L);
      assertThat(h.get(2).get("loss").asDouble())
          .as("step 3 kept from the first process")
          .isEqualTo(0.3);
      assertThat(h.get(3).get("_runtime").asDouble()).as("runtime continues").isGreaterThan(30.0);
      JsonNode firstPost = server.fileStreamPosts().get(0).json().get("files");
      assertThat(firstPost.get("wandb-history.jsonl").get("offset").asInt()).isEqualTo(3);
      assertThat(firstPost.get("wandb-summary.json").get("offset").asInt()).isZero();
      assertThat(run.summary().get("old_best").asDouble()).isEqualTo(0.3);
      assertThat(run.summary().get("_step").asLong()).isEqualTo(5);
      assertThat(run.completes).isEqualTo(2);
    }
  }

  @Test
  void resumeMustFailsForAnUnknownRun() throws Exception {
    try (FakeWandbServer server = new FakeWandbServer(KEY).start()) {
      WandbConfig cfg =
          config(server.url())
              .resume(WandbConfig.Resume.MUST)
              .failOnError(true)
              .initTimeout(Duration.ofSeconds(20))
              .build();
      WandbTracker tracker = WandbTracker.builder(cfg).build();
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> tracker.runStarted(Fixtures.start(dir, "missing1")))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("does not exist")
          .hasMessageContaining("WANDB_RESUME=must");
      tracker.close();
      assertThat(server.graphql("UpsertBucket")).isEmpty();
    }
  }
}
