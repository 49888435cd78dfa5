package dev.kiln.tensorboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.tracking.TrackerContext;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TensorBoardConfigTest {
  @Test
  void defaultsLogIntoTheRunDirectory() {
    TensorBoardConfig config = TensorBoardConfig.defaults();

    assertThat(config.logDirectory()).isEmpty();
    assertThat(config.logDirectoryFor(Path.of("runs/a"))).isEqualTo(Path.of("runs/a/tensorboard"));
    assertThat(config.histogramEveryEpochs()).isEqualTo(1);
    assertThat(config.flushInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(config.bufferSize()).isEqualTo(256 * 1024);
    assertThat(config.hparamsExperiment()).isFalse();
  }

  @Test
  void toBuilderCopiesEveryValue() {
    TensorBoardConfig config =
        TensorBoardConfig.builder()
            .logDirectory(Path.of("/tb/x"))
            .histogramEveryEpochs(5)
            .flushInterval(Duration.ofSeconds(3))
            .bufferSize(4096)
            .hparamsExperiment(true)
            .build();

    TensorBoardConfig copy = config.toBuilder().histogramEveryEpochs(2).build();

    assertThat(copy.logDirectoryFor(Path.of("ignored"))).isEqualTo(Path.of("/tb/x"));
    assertThat(copy.histogramEveryEpochs()).isEqualTo(2);
    assertThat(copy.flushInterval()).isEqualTo(Duration.ofSeconds(3));
    assertThat(copy.bufferSize()).isEqualTo(4096);
    assertThat(copy.hparamsExperiment()).isTrue();
    assertThat(config.histogramEveryEpochs()).isEqualTo(5);
  }

  @Test
  void settersRejectBadValuesNamingTheField() {
    TensorBoardConfig.Builder b = TensorBoardConfig.builder();

    assertThatThrownBy(() -> b.histogramEveryEpochs(0))
        .hasMessage("histogramEveryEpochs (0) must be positive");
    assertThatThrownBy(() -> b.flushInterval(Duration.ZERO))
        .hasMessage("flushInterval (PT0S) must be positive");
    assertThatThrownBy(() -> b.bufferSize(10)).hasMessage("bufferSize (10) must be at least 1024");
    assertThatThrownBy(() -> b.logDirectory(null)).hasMessage("logDirectory");
  }

  @Test
  void fromSettingsReadsEverySetting() {
    TrackerContext context =
        new TrackerContext(
            Path.of("runs/mnist-1"),
            Map.of(
                "KILN_TENSORBOARD_DIR", "/data/tb",
                "KILN_TENSORBOARD_HISTOGRAM_EVERY", "5",
                "KILN_TENSORBOARD_FLUSH_INTERVAL", "10",
                "KILN_TENSORBOARD_HPARAMS_EXPERIMENT", "TRUE"),
            Clock.systemUTC());

    TensorBoardConfig config = TensorBoardConfig.fromSettings(context);

    assertThat(config.logDirectory()).contains(Path.of("/data/tb/mnist-1"));
    assertThat(config.histogramEveryEpochs()).isEqualTo(5);
    assertThat(config.flushInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(config.hparamsExperiment()).isTrue();
  }

  @Test
  void fromSettingsNamesTheSettingThatCannotBeUsed() {
    TrackerContext context =
        new TrackerContext(
            Path.of("r"), Map.of("KILN_TENSORBOARD_HPARAMS_EXPERIMENT", "yes"), Clock.systemUTC());

    assertThatThrownBy(() -> TensorBoardConfig.fromSettings(context))
        .hasMessage("KILN_TENSORBOARD_HPARAMS_EXPERIMENT (yes) must be true or false");
  }
}
