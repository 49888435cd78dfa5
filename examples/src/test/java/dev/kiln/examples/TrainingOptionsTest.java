package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainingOptionsTest {

  @Test
  void withoutFlagsTheDefaultsAreTheNotesScript() throws Exception {
    TrainingOptions o = TrainingOptions.parse();
    assertThat(o.epochs()).isEqualTo(14);
    assertThat(o.batchSize()).isEqualTo(64);
    assertThat(o.testBatchSize()).isEqualTo(1000);
    assertThat(o.learningRate()).isEqualTo(1.0);
    assertThat(o.gamma()).isEqualTo(0.7);
    assertThat(o.seed()).isEqualTo(1);
    assertThat(o.workers()).isEqualTo(1);
    assertThat(o.limit()).isZero();
    assertThat(o.testLimit()).isZero();
    assertThat(o.data()).isEmpty();
    assertThat(o.device()).isEmpty();
    assertThat(o.resume()).isFalse();
    assertThat(o.runDirectory()).isEqualTo(Path.of("runs", "mnist"));
    assertThat(o.checkpointEveryEpochs()).isEqualTo(1);
    assertThat(o.checkpointEverySteps()).isZero();
    assertThat(o.trackers()).containsExactly("console", "jsonl", "tensorboard");
  }

  @Test
  void everyFlagIsRead() throws Exception {
    TrainingOptions o =
        TrainingOptions.parse(
            "--data",
            "/d",
            "--epochs",
            "3",
            "--limit",
            "640",
            "--test-limit=200",
            "--batch-size",
            "32",
            "--test-batch-size",
            "100",
            "--lr",
            "0.5",
            "--gamma",
            "0.9",
            "--workers",
            "0",
            "--seed",
            "-7",
            "--device",
            "cpu",
            "--run-dir",
            "/tmp/run",
            "--resume",
            "--checkpoint-every",
            "2",
            "--checkpoint-every-steps",
            "3",
            "--trackers",
            "Console, csv",
            "--verbose");
    assertThat(o.data()).contains(Path.of("/d"));
    assertThat(o.epochs()).isEqualTo(3);
    assertThat(o.limit()).isEqualTo(640);
    assertThat(o.testLimit()).isEqualTo(200);
    assertThat(o.batchSize()).isEqualTo(32);
    assertThat(o.testBatchSize()).isEqualTo(100);
    assertThat(o.learningRate()).isEqualTo(0.5);
    assertThat(o.gamma()).isEqualTo(0.9);
    assertThat(o.workers()).isZero();
    assertThat(o.seed()).isEqualTo(-7);
    assertThat(o.device()).contains("cpu");
    assertThat(o.runDirectory()).isEqualTo(Path.of("/tmp/run"));
    assertThat(o.resume()).isTrue();
    assertThat(o.checkpointEveryEpochs()).isEqualTo(2);
    assertThat(o.checkpointEverySteps()).isEqualTo(3);
    assertThat(o.trackers()).containsExactly("console", "csv");
    assertThat(o.verbose()).isTrue();
  }

  @Test
  void theOptionsBecomeTheTrainerConfig() throws Exception {
    var config =
        MnistTraining.config(
            TrainingOptions.parse(
                "--epochs",
                "3",
                "--checkpoint-every-steps",
                "5",
                "--resume",
                "--device",
                "cpu",
                "--trackers",
                "jsonl"));
    assertThat(config.epochs()).isEqualTo(3);
    assertThat(config.batchSize()).isEqualTo(64);
    assertThat(config.validationBatchSize()).isEqualTo(1000);
    assertThat(config.validationPrefix()).isEqualTo("test");
    assertThat(config.evaluators()).extracting(e -> e.getName()).containsExactly("acc");
    assertThat(config.optimizer()).isInstanceOf(dev.kiln.optim.Adadelta.class);
    assertThat(config.optimizer().learningRate()).isEqualTo(1.0);
    assertThat(config.schedule()).isEqualTo(dev.kiln.optim.LrSchedules.step(1, 0.7));
    assertThat(config.seed()).isEqualTo(1);
    assertThat(config.checkpoints().everyEpochs()).isEqualTo(1);
    assertThat(config.checkpoints().everySteps()).isEqualTo(5);
    assertThat(config.resume()).isEqualTo(dev.kiln.Resume.latest());
    assertThat(config.devices()).contains("cpu");
    assertThat(config.trackerNames()).contains(List.of("jsonl"));
  }

  @Test
  void anEmptyTrackerListTurnsTrackersOff() throws Exception {
    assertThat(TrainingOptions.parse("--trackers", "").trackers()).isEmpty();
  }

  @Test
  void aNegativeEpochCountNamesTheFlagAndTheRange() {
    assertThatThrownBy(() -> TrainingOptions.parse("--epochs", "-3"))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining("--epochs must be a whole number >= 1, not -3");
  }

  @Test
  void anUnknownFlagPointsToHelp() {
    assertThatThrownBy(() -> TrainingOptions.parse("--epoch", "3"))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining("unknown option '--epoch'")
        .hasMessageContaining("--help");
  }

  @Test
  void aFlagWithoutItsValueShowsAnExample() {
    assertThatThrownBy(() -> TrainingOptions.parse("--data"))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining(
            "--data needs a value — e.g. --data /usr/share/datasets/fashion-mnist");
  }

  @Test
  void numbersAreChecked() {
    assertThatThrownBy(() -> TrainingOptions.parse("--batch-size", "sixty"))
        .hasMessageContaining("--batch-size must be a whole number, not 'sixty'");
    assertThatThrownBy(() -> TrainingOptions.parse("--lr", "-1"))
        .hasMessageContaining("--lr must be a finite number >= 0, not -1");
    assertThatThrownBy(() -> TrainingOptions.parse("--gamma", "0"))
        .hasMessageContaining("--gamma must be a finite number > 0, not 0");
    assertThatThrownBy(() -> TrainingOptions.parse("--gamma", "NaN"))
        .hasMessageContaining("--gamma must be a finite number > 0");
    assertThatThrownBy(() -> TrainingOptions.parse("--limit", "0"))
        .hasMessageContaining("--limit must be a whole number >= 1, not 0");
    assertThatThrownBy(() -> TrainingOptions.parse("--workers", "-1"))
        .hasMessageContaining("--workers must be a whole number >= 0");
  }

  @Test
  void aTrackerListWithAnEmptyNameIsRefused() {
    assertThatThrownBy(() -> TrainingOptions.parse("--trackers", "console,,jsonl"))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining("has an empty name");
  }

  @Test
  void theResumeCommandRepeatsTheArgumentsQuotedForTheShell() {
    assertThat(MnistTraining.resumeArguments(new String[] {"--run-dir", "my run", "--epochs", "3"}))
        .isEqualTo("--run-dir 'my run' --epochs 3 --resume");
    assertThat(MnistTraining.resumeArguments(new String[] {"--resume"})).isEqualTo("--resume");
  }
}
