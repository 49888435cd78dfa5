package dev.kiln.tensorboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.TrackerContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorBoardTrackerProviderTest {
  @TempDir Path tmp;
  private final Clock clock = Clock.fixed(Instant.ofEpochSecond(1_700_000_000L), ZoneOffset.UTC);

  @Test
  void serviceLoaderFindsTheProviderByName() {
    List<String> names =
        ServiceLoader.load(ExperimentTrackerProvider.class).stream()
            .map(p -> p.get().name())
            .toList();

    assertThat(names).contains("tensorboard");
  }

  @Test
  void kilnTensorboardDirIsARootHoldingOneDirectoryPerRun() throws Exception {
    Path runDir = Files.createDirectories(tmp.resolve("runs/mnist-1"));
    Path root = tmp.resolve("tb");
    ExperimentTracker tracker =
        new TensorBoardTrackerProvider()
            .create(
                new TrackerContext(runDir, Map.of("KILN_TENSORBOARD_DIR", root.toString()), clock));
    tracker.runStarted(
        new RunStart(
            "abcd1234",
            "mnist-1",
            runDir,
            clock.instant(),
            Map.of(),
            new DeviceReport("PyTorch", "2.7.1", List.of(), "test", 1),
            Optional.empty()));
    tracker.close();

    assertThat(tracker.name()).isEqualTo("tensorboard");
    assertThat(((TensorBoardTracker) tracker).logDirectory()).contains(root.resolve("mnist-1"));
    assertThat(TensorBoardView.load(root.resolve("mnist-1")).files).hasSize(1);
    assertThat(runDir.resolve("tensorboard")).doesNotExist();
  }

  @Test
  void unwritableLogDirectoryFailsCreateWithTheCauseAndTheFix() throws Exception {
    Path runDir = Files.createDirectories(tmp.resolve("run"));
    Path blocker = Files.writeString(tmp.resolve("blocker"), "not a directory");

    assertThatThrownBy(
            () ->
                new TensorBoardTrackerProvider()
                    .create(
                        new TrackerContext(
                            runDir, Map.of("KILN_TENSORBOARD_DIR", blocker.toString()), clock)))
        .hasMessageStartingWith(
            "TensorBoard tracker cannot write TensorBoard logs to " + blocker.resolve("run") + ": ")
        .hasMessageContaining("FileSystemException")
        .hasMessageEndingWith(" — make it writable or set KILN_TENSORBOARD_DIR");
  }

  @Test
  void badSettingIsRejectedByName() {
    TrackerContext context =
        new TrackerContext(tmp, Map.of("KILN_TENSORBOARD_HISTOGRAM_EVERY", "often"), clock);

    assertThatThrownBy(() -> new TensorBoardTrackerProvider().create(context))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("KILN_TENSORBOARD_HISTOGRAM_EVERY (often) must be a positive integer");
  }
}
