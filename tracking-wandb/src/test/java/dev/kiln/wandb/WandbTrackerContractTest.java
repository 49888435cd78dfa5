package dev.kiln.wandb;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.testing.ExperimentTrackerContractTest;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Kiln's tracker contract, with the tracker uploading to a fake W&amp;B server. */
class WandbTrackerContractTest extends ExperimentTrackerContractTest {
  private FakeWandbServer server;

  @BeforeEach
  void startServer() throws Exception {
    server = new FakeWandbServer(Fixtures.KEY).start();
  }

  @AfterEach
  void stopServer() throws Exception {
    server.close();
  }

  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    return WandbTracker.builder(Fixtures.config(server.url()).build()).build();
  }

  @Override
  protected void abandon(ExperimentTracker tracker) throws Exception {
    ((WandbTracker) tracker).abandon();
  }

  @Override
  protected void verifyFinishedRun(Path runDirectory, List<MetricsRecord> sent) {
    assertThat(server.violations()).isEmpty();
    FakeWandbServer.Run run = onlyRun();
    List<Long> steps = run.history().stream().map(h -> h.get("_step").asLong()).toList();
    assertThat(steps).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    assertThat(run.file("wandb-history.jsonl").get(2)).contains("NaN");
    assertThat(run.completes).isEqualTo(1);
    assertThat(run.exitcode).isZero();
  }

  @Override
  protected void verifyResumedRun(
      Path runDirectory,
      ResumeInfo resume,
      List<MetricsRecord> sentBefore,
      List<MetricsRecord> sentAfter) {
    assertThat(server.violations()).isEmpty();
    FakeWandbServer.Run run = onlyRun();
    List<Long> steps = run.history().stream().map(h -> h.get("_step").asLong()).toList();
    assertThat(steps).isSorted().doesNotHaveDuplicates();
    long lastAfter = sentAfter.get(sentAfter.size() - 1).step();
    assertThat(steps.get(steps.size() - 1)).isEqualTo(lastAfter);
    JsonNode summary = run.summary();
    assertThat(summary.get("_step").asLong()).isEqualTo(lastAfter);
    assertThat(run.complete).isTrue();
  }

  private FakeWandbServer.Run onlyRun() {
    String name =
        server.graphql("UpsertBucket").get(0).json().get("variables").get("name").asText();
    return server.run(name);
  }
}
