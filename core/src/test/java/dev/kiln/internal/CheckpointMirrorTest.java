package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointRequest;
import dev.kiln.checkpoint.CheckpointStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointMirrorTest {
  @TempDir Path dir;

  /**
   * Child JVM: mirrors checkpoints of growing step from a local store, forever, in small chunks.
   */
  public static void main(String[] args) throws Exception {
    Path local = Paths.get(args[0]);
    Path mirror = Paths.get(args[1]);
    CheckpointStore localStore = CheckpointStore.builder(local).build();
    CheckpointStore mirrorStore = CheckpointStore.builder(mirror).build();
    byte[] data = new byte[4 << 20];
    new SplittableRandom(1).nextBytes(data);
    CheckpointMirror.Copier chunked =
        (from, to) -> {
          try (var in = Files.newInputStream(from);
              var ch =
                  java.nio.channels.FileChannel.open(
                      to,
                      java.nio.file.StandardOpenOption.CREATE_NEW,
                      java.nio.file.StandardOpenOption.WRITE)) {
            byte[] buf = new byte[64 << 10];
            int n;
            while ((n = in.read(buf)) > 0) {
              ch.write(java.nio.ByteBuffer.wrap(buf, 0, n));
            }
            ch.force(true);
          }
        };
    for (long step = 1; ; step++) {
      data[0] = (byte) step;
      Checkpoint c =
          localStore.save(
              CheckpointRequest.of(1, step), d -> Files.write(d.resolve("state.bin"), data));
      CheckpointMirror.copyCheckpoint(c, mirrorStore, chunked);
      System.out.println("mirrored " + step);
      System.out.flush();
    }
  }

  @Test
  void killingTheJvmWhileMirroringLeavesTheMirrorsPreviousCheckpointValid() throws Exception {
    SplittableRandom random = new SplittableRandom(7);
    Path local = dir.resolve("local");
    Path mirror = dir.resolve("mirror");
    long lastReported = 0;
    for (int kill = 0; kill < 8; kill++) {
      Process p =
          new ProcessBuilder(
                  Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                  "-cp",
                  System.getProperty("java.class.path"),
                  CheckpointMirrorTest.class.getName(),
                  local.toString(),
                  mirror.toString())
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      int mirrorsBeforeKill = 1 + random.nextInt(3);
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        int seen = 0;
        while ((line = r.readLine()) != null) {
          if (line.startsWith("mirrored ")) {
            lastReported = Math.max(lastReported, Long.parseLong(line.substring(9)));
            if (++seen == mirrorsBeforeKill) {
              // Kill somewhere inside the next save + copy.
              java.util.concurrent.locks.LockSupport.parkNanos(random.nextLong(1, 40_000_000L));
              p.destroyForcibly();
              break;
            }
          }
        }
      }
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();

      Optional<Checkpoint> newest = CheckpointStore.builder(mirror).build().latestValid();
      assertThat(newest).as("after kill %d the mirror holds a valid checkpoint", kill).isPresent();
      assertThat(newest.get().step()).isGreaterThanOrEqualTo(lastReported);
    }
  }
}
