package dev.kiln.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a saving JVM with SIGKILL at random moments and checks that the store always recovers to a
 * valid checkpoint no older than the last one the child reported committed. {@code
 * -Dkiln.crashKills=N} changes the number of kills (default 50); the longer run is {@code
 * dev.kiln.bench.CheckpointTorture}.
 */
class CrashSafetyTest {

  private static final int KILLS = Integer.getInteger("kiln.crashKills", 50);

  @TempDir Path dir;

  @Test
  void sigkillDuringSavesAlwaysLeavesAValidCheckpointAtLeastAsNewAsTheLastReportedCommit()
      throws Exception {
    Path runDir = dir.resolve("run");
    CheckpointStore.builder(runDir)
        .build()
        .save(CheckpointRequest.of(0, 0), d -> Files.writeString(d.resolve("trainer.json"), "{}"));
    long seed = System.nanoTime();
    Random random = new Random(seed);
    long lastReported = 0;
    int killsMidSave = 0;
    for (int kill = 1; kill <= KILLS; kill++) {
      Path stderr = dir.resolve("child-" + kill + ".err");
      Process child = startChild(runDir, stderr);
      List<String> lines = new ArrayList<>();
      try (BufferedReader out =
          new BufferedReader(
              new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        String first = out.readLine();
        if (!"ready".equals(first)) {
          child.destroyForcibly().waitFor();
          fail(
              "child %d did not start (seed %d): %s%n%s",
              kill, seed, first, Files.readString(stderr));
        }
        // The random delay is the kill moment under test, not a wait for some condition.
        TimeUnit.MILLISECONDS.sleep(20 + random.nextInt(231));
        // SIGKILL through the handle: Process.destroyForcibly() would also close our end of stdout
        // and lose
        // the "committed" lines still in the pipe.
        child.toHandle().destroyForcibly();
        child.waitFor();
        for (String line; (line = out.readLine()) != null; ) {
          lines.add(line);
        }
      }
      for (String line : lines) {
        assertThat(line).startsWith("committed ");
        lastReported =
            Math.max(lastReported, Long.parseLong(line.substring("committed ".length())));
      }
      if (hasTemporaryDirectory(runDir)) {
        killsMidSave++;
      }

      CheckpointStore reopened = CheckpointStore.builder(runDir).build();
      Checkpoint latest = reopened.latestValid().orElse(null);

      String context = "kill " + kill + " (seed " + seed + ")";
      assertThat(latest).as(context).isNotNull();
      assertThat(latest.step()).as(context).isGreaterThanOrEqualTo(lastReported);
      assertThat(reopened.problems()).as(context).isEmpty();
      assertThat(hasTemporaryDirectory(runDir)).as(context).isFalse();
      lastReported = latest.step();
      Files.delete(stderr);
    }
    System.out.printf(
        "CrashSafetyTest: %d kills, %d interrupted a save, %d checkpoints committed (seed %d)%n",
        KILLS, killsMidSave, lastReported, seed);
    // Guard against a vacuous run: kills must land both mid-save and after commits.
    assertThat(killsMidSave)
        .as("kills that interrupted a save in progress")
        .isGreaterThan(KILLS / 4);
    assertThat(lastReported)
        .as("checkpoints committed across all children")
        .isGreaterThan(KILLS / 5);
  }

  private static Process startChild(Path runDir, Path stderr) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    return new ProcessBuilder(
            java.toString(),
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Xmx64m",
            "-Xss512k",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dkiln.checkpoint.directIoMinBytes=1048576", // model.bin (2 MiB) written directly
            "-cp",
            System.getProperty("java.class.path"),
            CrashingSaver.class.getName(),
            runDir.toString())
        .redirectError(stderr.toFile())
        .start();
  }

  private static boolean hasTemporaryDirectory(Path runDir) throws IOException {
    try (Stream<Path> entries = Files.list(runDir)) {
      return entries.anyMatch(p -> p.getFileName().toString().startsWith(".tmp-"));
    }
  }
}
