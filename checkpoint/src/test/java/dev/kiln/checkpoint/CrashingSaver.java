package dev.kiln.checkpoint;

import dev.kiln.checkpoint.internal.TrailingHashes;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Child program for {@link CrashSafetyTest}: resumes from the newest valid checkpoint in {@code
 * args[0]} and saves checkpoints (about 3 MiB each) in a loop until killed: {@code model.bin} as
 * {@code TensorFile} writes it (hashed as written, with direct I/O where the system allows), the
 * other files with {@code Files.write}. Prints {@code ready} once, then {@code committed <step>}
 * after each save returns.
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
            // As TensorFile writes: hashed as written, with direct I/O where the store allows.
            TrailingHashes.writeFile(
                d.resolve("model.bin"), model.length, out -> out.write(ByteBuffer.wrap(model)));
            Files.createDirectory(d.resolve("optim"));
            Files.write(d.resolve("optim/adam.bin"), optimizer);
            Files.writeString(d.resolve("trainer.json"), "{\"step\":" + current + "}");
          });
      System.out.println("committed " + step);
      System.out.flush();
    }
  }
}
