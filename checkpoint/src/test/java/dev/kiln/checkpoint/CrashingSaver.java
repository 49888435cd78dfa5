package dev.kiln.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Child program for {@link CrashSafetyTest}: resumes from the newest valid checkpoint in {@code
 * args[0]} and saves checkpoints (about 3 MiB each) in a loop until killed. Prints {@code ready}
 * once, then {@code committed <step>} after each save returns.
 */
public final class CrashingSaver {

  private CrashingSaver() {}

  public static void main(String[] args) {
    Path dir = Path.of(args[0]);
    CheckpointStore store =
        CheckpointStore.builder(dir)
            .retention(
                Retention.builder()
                    .keepLast(2)
                    .keepBest(1, "loss", Retention.Direction.MIN)
                    .build())
            .build();
    long step = store.latestValid().map(Checkpoint::step).orElse(0L);
    byte[] model = new byte[2 << 20];
    byte[] optimizer = new byte[1 << 20];
    new Random(step).nextBytes(model);
    new Random(step + 1).nextBytes(optimizer);
    System.out.println("ready");
    System.out.flush();
    while (true) {
      step++;
      ByteBuffer.wrap(model).putLong(0, step);
      ByteBuffer.wrap(optimizer).putLong(0, step);
      long current = step;
      store.save(
          CheckpointRequest.builder((int) (step / 10), step).metric("loss", 1.0 / step).build(),
          d -> {
            Files.write(d.resolve("model.bin"), model);
            Files.createDirectory(d.resolve("optim"));
            Files.write(d.resolve("optim/adam.bin"), optimizer);
            Files.writeString(d.resolve("trainer.json"), "{\"step\":" + current + "}");
          });
      System.out.println("committed " + step);
      System.out.flush();
    }
  }
}
