package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.training.loss.Loss;
import dev.kiln.optim.Adam;
import org.junit.jupiter.api.Test;

class TrainerConfigTest {
  TrainerConfig.Builder builder() {
    return TrainerConfig.builder(Loss.softmaxCrossEntropyLoss(), Adam.builder().build());
  }

  @Test
  void checkpointVerificationDefaultsToPartCrc32csRejectsNullAndSurvivesToBuilder() {
    CheckpointPolicy policy = CheckpointPolicy.builder().build();

    assertThat(policy.verification()).isEqualTo(dev.kiln.checkpoint.Verification.CRC32C);
    assertThatThrownBy(() -> CheckpointPolicy.builder().verification(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("verification");
    CheckpointPolicy sha256 =
        policy.toBuilder().verification(dev.kiln.checkpoint.Verification.SHA256).build();
    assertThat(sha256.toBuilder().build().verification())
        .isEqualTo(dev.kiln.checkpoint.Verification.SHA256);
  }

  @Test
  void outOfRangeValuesAreRejectedNamingTheField() {
    assertThatThrownBy(() -> builder().epochs(0).build()).hasMessage("epochs must be >= 1: 0");
    assertThatThrownBy(() -> builder().batchSize(0).build())
        .hasMessage("batchSize must be >= 1: 0");
    assertThatThrownBy(() -> builder().validationBatchSize(-1).build())
        .hasMessageStartingWith("validationBatchSize");
    assertThatThrownBy(() -> builder().workers(-1).build()).hasMessageStartingWith("workers");
    assertThatThrownBy(() -> builder().microBatches(0).build())
        .hasMessageStartingWith("microBatches");
    assertThatThrownBy(() -> builder().gradientClipNorm(Double.NaN).build())
        .hasMessageStartingWith("gradientClipNorm");
    assertThatThrownBy(() -> builder().runName("../x").build()).hasMessageStartingWith("runName");
    assertThatThrownBy(() -> builder().devices("tpu").build())
        .hasMessageContaining("devices must be");
    assertThatThrownBy(() -> CheckpointPolicy.builder().keepLast(0).build())
        .hasMessage("keepLast must be >= 1: 0");
  }

  @Test
  void defaultsFollowTheDocumentationAndToBuilderCopiesEverything() {
    TrainerConfig c = builder().build();
    assertThat(c.epochs()).isEqualTo(1);
    assertThat(c.batchSize()).isEqualTo(64);
    assertThat(c.validationBatchSize()).isEqualTo(64);
    assertThat(c.workers()).isEqualTo(1);
    assertThat(c.evaluators()).hasSize(1);
    assertThat(c.resume().mode()).isEqualTo(Resume.Mode.NEVER);
    assertThat(c.checkpoints().everyEpochs()).isEqualTo(1);
    TrainerConfig d = c.toBuilder().epochs(5).seed(9).build();
    assertThat(d.epochs()).isEqualTo(5);
    assertThat(d.seed()).isEqualTo(9);
    assertThat(d.batchSize()).isEqualTo(64);
    assertThat(d.describe()).containsEntry("epochs", 5).containsKey("optimizer");
  }
}
