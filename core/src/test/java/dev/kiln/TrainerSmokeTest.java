package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.loss.Loss;
import dev.kiln.data.MnistDataset;
import dev.kiln.optim.Adam;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerSmokeTest {
  @TempDir Path dir;

  @Test
  void mlpLearnsFashionMnist() throws Exception {
    Path data = Paths.get("/usr/share/datasets/fashion-mnist");
    Assumptions.assumeTrue(Files.isDirectory(data));
    MnistDataset train = MnistDataset.builder(data, MnistDataset.Split.TRAIN).limit(2000).build();
    MnistDataset test = MnistDataset.builder(data, MnistDataset.Split.TEST).limit(1000).build();
    SequentialBlock net = new SequentialBlock()
        .add(Blocks.batchFlattenBlock())
        .add(Linear.builder().setUnits(64).build())
        .add(Activation.reluBlock())
        .add(Linear.builder().setUnits(10).build());
    TrainerConfig config = TrainerConfig.builder(Loss.softmaxCrossEntropyLoss(), Adam.builder().learningRate(1e-3).build())
        .epochs(2).batchSize(64).seed(1).runDirectory(dir.resolve("run")).trackerNames(List.of("console", "jsonl"))
        .build();
    FitResult r = Trainer.fit(net, train, test, config);
    System.out.println(r);
    assertThat(r.last().get().metric("val_accuracy")).isGreaterThan(0.5);
  }
}
