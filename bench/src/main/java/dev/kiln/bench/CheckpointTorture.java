package dev.kiln.bench;

import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointRequest;
import dev.kiln.checkpoint.CheckpointStore;
import dev.kiln.checkpoint.Retention;
import dev.kiln.checkpoint.internal.TrailingHashes;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Crash torture for {@link CheckpointStore}: starts a child JVM (this class with {@code child})
 * that resumes from the newest valid checkpoint and saves ~3 MiB checkpoints in a loop, kills it
 * with SIGKILL after a random 20–300 ms, reopens the store and checks that a valid checkpoint
 * exists, at least as new as the last one the child reported committed, with no problems and no
 * temporary leftovers. Exits 1 on the first violation.
 *
 * <pre>
 * java -cp "bench/target/classes:bench/target/lib/*" dev.kiln.bench.CheckpointTorture [kills=200] [directory]
 * </pre>
 */
public final class CheckpointTorture {

  private CheckpointTorture() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("child")) {
      child(Path.of(args[1]));
      return;
    }
    int kills = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    Path dir = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("kiln-torture");
    long seed = System.nanoTime();
    Random random = new Random(seed);
    CheckpointStore.builder(dir)
        .build()
        .save(CheckpointRequest.of(0, 0), d -> Files.writeString(d.resolve("trainer.json"), "{}"));
    long lastReported = 0;
    int midSave = 0;
    long start = System.nanoTime();
    for (int kill = 1; kill <= kills; kill++) {
      Process child =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-XX:TieredStopAtLevel=1",
                  "-XX:+UseSerialGC",
                  "-Xmx64m",
                  "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                  "-Dkiln.checkpoint.directIoMinBytes=1048576", // model.bin (2 MiB) written
                                                                // directly
                  "-cp",
                  System.getProperty("java.class.path"),
                  CheckpointTorture.class.getName(),
                  "child",
                  dir.toString())
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      try (BufferedReader out =
          new BufferedReader(
              new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        String first = out.readLine();
        if (!"ready".equals(first)) {
          child.toHandle().destroyForcibly();
          fail(kill, seed, "child did not start: " + first);
        }
        TimeUnit.MILLISECONDS.sleep(20 + random.nextInt(281)); // the kill moment
        child.toHandle().destroyForcibly(); // SIGKILL; keeps our end of stdout readable
        child.waitFor();
        for (String line; (line = out.readLine()) != null; ) {
          if (!line.startsWith("committed ")) {
            fail(kill, seed, "unexpected child output: " + line);
          }
          lastReported =
              Math.max(lastReported, Long.parseLong(line.substring("committed ".length())));
        }
      }
      if (hasTemp(dir)) {
        midSave++;
      }
      CheckpointStore store = CheckpointStore.builder(dir).build();
      Checkpoint latest = store.latestValid().orElse(null);
      if (latest == null) {
        fail(kill, seed, "no valid checkpoint; problems: " + store.problems());
      } else if (latest.step() < lastReported) {
        fail(
            kill, seed, "latest valid step " + latest.step() + " < last committed " + lastReported);
      } else if (!store.problems().isEmpty()) {
        fail(kill, seed, "problems: " + store.problems());
      } else if (hasTemp(dir)) {
        fail(kill, seed, "temporary directory left after open");
      }
      lastReported = latest.step();
      if (kill % 25 == 0) {
        System.out.printf(
            "%d kills, %d mid-save, latest step %d, %.1f s%n",
            kill, midSave, lastReported, (System.nanoTime() - start) / 1e9);
      }
    }
    System.out.printf(
        "OK: %d kills (%d interrupted a save in progress), %d checkpoints committed, always a valid"
            + " checkpoint >= the last reported commit, in %.1f s (seed %d, dir %s)%n",
        kills, midSave, lastReported, (System.nanoTime() - start) / 1e9, seed, dir);
  }

  private static void fail(int kill, long seed, String message) {
    System.out.printf("FAILED at kill %d (seed %d): %s%n", kill, seed, message);
    System.exit(1);
  }

  private static boolean hasTemp(Path dir) throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.anyMatch(p -> p.getFileName().toString().startsWith(".tmp-"));
    }
  }

  private static void child(Path dir) throws IOException {
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .retention(
                Retention.builder()
                    .keepLast(2)
                    .keepBest(1, "loss", Retention.Direction.MIN)
                    .keepEveryEpochs(5)
                    .build())
            .build();
    long step = store.latestValid().map(Checkpoint::step).orElse(0L);
    byte[] model = new byte[2 << 20];
    byte[] optimizer = new byte[1 << 20];
    new Random(step).nextBytes(model);
    new Random(~step).nextBytes(optimizer);
    System.out.println("ready");
    System.out.flush();
    while (true) {
      long current = ++step;
      ByteBuffer.wrap(model).putLong(0, current);
      ByteBuffer.wrap(optimizer).putLong(0, current);
      store.save(
          CheckpointRequest.builder((int) (current / 10), current)
              .metric("loss", 1.0 / (1 + current % 17))
              .build(),
          d -> {
            // As TensorFile writes: hashed as written, with direct I/O where the store allows.
            TrailingHashes.writeFile(
                d.resolve("model.bin"), model.length, out -> out.write(ByteBuffer.wrap(model)));
            Files.createDirectory(d.resolve("optim"));
            Files.write(d.resolve("optim/adam.bin"), optimizer);
            Files.writeString(d.resolve("trainer.json"), "{\"step\":" + current + "}");
          });
      System.out.println("committed " + current);
      System.out.flush();
    }
  }
}
