package dev.kiln.bench;

import ai.djl.Model;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.loss.Loss;
import dev.kiln.CheckpointPolicy;
import dev.kiln.EpochResult;
import dev.kiln.FitResult;
import dev.kiln.Trainer;
import dev.kiln.TrainerConfig;
import dev.kiln.data.MnistDataset;
import dev.kiln.examples.MnistNet;
import dev.kiln.optim.Adadelta;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;

/**
 * How long the training thread waits for checkpoints, synchronous against asynchronous saves, in
 * one run: the seed CNN with Adadelta (model + optimizer state, ~14 MB), a checkpoint every 10
 * steps, alternating the two modes. With async on, the wait is the copy of the tensors to host
 * memory (and any save still running from before).
 *
 * <pre>
 * java -cp "bench/target/classes:bench/target/lib/*" dev.kiln.bench.AsyncCheckpointBenchmark [images] [rounds]
 * </pre>
 */
public final class AsyncCheckpointBenchmark {
  private AsyncCheckpointBenchmark() {}

  public static void main(String[] args) throws Exception {
    int images = args.length > 0 ? Integer.parseInt(args[0]) : 1280;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    Path data = Paths.get("/usr/share/datasets/fashion-mnist");
    MnistDataset train = MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(images).build();
    MnistDataset test = MnistDataset.builder(data, MnistDataset.Split.TEST).limit(200).build();
    long steps = (images + 63) / 64;
    long saves = (steps - 1) / 10 + 1; // mid-epoch saves at multiples of 10, and one at the end
    System.out.printf(
        Locale.ROOT,
        "seed CNN + Adadelta state, %d steps, a checkpoint every 10 steps (%d saves per epoch)%n",
        steps,
        saves);
    for (int r = 1; r <= rounds; r++) {
      for (boolean async : new boolean[] {false, true}) {
        Path dir = Files.createTempDirectory("kiln-async-bench");
        try (Model model = Model.newInstance("bench")) {
          model.setBlock(MnistNet.newBlock());
          TrainerConfig config =
              TrainerConfig.builder(Loss.softmaxCrossEntropyLoss(), Adadelta.builder().build())
                  .evaluator(new Accuracy("acc", 1))
                  .seed(1)
                  .validationBatchSize(200)
                  .runDirectory(dir.resolve("run"))
                  .trackerNames(List.of())
                  .progress(TrainerConfig.Progress.OFF)
                  .checkpoints(CheckpointPolicy.builder().everySteps(10).async(async).build())
                  .build();
          FitResult result = Trainer.fit(model, train, test, config);
          EpochResult e = result.last().orElseThrow();
          System.out.printf(
              Locale.ROOT,
              "round %d %-5s: training thread waited %.3f s for checkpoints (%.1f ms per save),"
                  + " training %.2f s%n",
              r,
              async ? "async" : "sync",
              e.metric("time_checkpoint"),
              1000 * e.metric("time_checkpoint") / saves,
              e.metric("time_taken"));
        }
      }
    }
  }
}
