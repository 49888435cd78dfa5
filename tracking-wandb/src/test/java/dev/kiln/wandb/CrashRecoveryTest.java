package dev.kiln.wandb;

import static dev.kiln.wandb.Fixtures.KEY;
import static dev.kiln.wandb.Fixtures.config;
import static dev.kiln.wandb.Fixtures.end;
import static dev.kiln.wandb.Fixtures.step;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training JVM is killed while the server holds a post it has already applied (so the server
 * has lines the dead process never saw acknowledged, and the spool has records the server never
 * got); Kiln restarts the run from a checkpoint at step 15 and re-emits steps 16..25.
 */
class CrashRecoveryTest {
  @TempDir Path dir;

  @Test
  void aKilledRunIsCompletedByTheNextStartExactlyOnce() throws Exception {
    try (FakeWandbServer server = new FakeWandbServer(KEY).start()) {
      Process child =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-cp",
                  System.getProperty("java.class.path"),
                  CrashChild.class.getName(),
                  dir.toString(),
                  server.url(),
                  "crash001")
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      try {
        BufferedReader out =
            new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        Writer in = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8);
        assertThat(out.readLine()).isEqualTo("LOGGED 10");
        // Step 10's row waits for a higher step, so 9 rows are deliverable.
        assertThat(
                server.awaitRequest(
                    r -> server.run("crash001").history().size() == 9, Duration.ofSeconds(30)))
            .isTrue();
        server.holdFileStream();
        in.write("more\n");
        in.flush();
        assertThat(out.readLine()).isEqualTo("LOGGED 20");
        assertThat(server.awaitHeld(Duration.ofSeconds(30))).isTrue();
        assertThat(server.run("crash001").history())
            .as(
                () ->
                    server.fileStreamPosts().stream()
                        .map(FakeWandbServer.Req::body)
                        .toList()
                        .toString())
            .hasSizeBetween(10, 19);
      } finally {
        child.destroyForcibly();
        assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        server.release();
      }

      WandbTracker restarted = WandbTracker.builder(config(server.url()).build()).build();
      restarted.runStarted(
          Fixtures.start(
              dir, "crash001", Optional.of(new ResumeInfo(15, 1, "step-15")), Map.of("lr", 0.1)));
      for (int s = 16; s <= 25; s++) {
        restarted.metrics(step(s, 1.0 / s));
      }
      restarted.runEnded(end(RunEnd.Outcome.FINISHED, 25));
      restarted.close();

      FakeWandbServer.Run run = server.run("crash001");
      assertThat(server.violations()).isEmpty();
      List<Long> steps = run.history().stream().map(h -> h.get("_step").asLong()).toList();
      assertThat(steps)
          .containsExactlyElementsOf(
              java.util.stream.LongStream.rangeClosed(1, 25).boxed().toList());
      assertThat(run.completes).isEqualTo(1);
      assertThat(run.exitcode).isZero();
      assertThat(server.graphql("RunResumeStatus")).hasSize(1);
      assertThat(server.graphql("UpsertBucket").get(1).json().get("variables").get("id").asText())
          .isEqualTo(run.id);
      assertThat(Fixtures.allFiles(dir)).doesNotContain(KEY);
    }
  }
}
