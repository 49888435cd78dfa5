package dev.kiln.tensorboard;

import static dev.kiln.tensorboard.TensorBoardProtos.get;
import static dev.kiln.tensorboard.TensorBoardProtos.has;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.HistogramRecord.Histogram;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.Summary;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TensorBoardTrackerTest {
  private static final Instant T0 = Instant.ofEpochSecond(1_700_000_000L);
  private static final DeviceReport DEVICES =
      new DeviceReport(
          "PyTorch",
          "2.7.1",
          List.of(new DeviceReport.Device("cpu()", "CPU", -1, -1)),
          "auto: no CUDA GPU visible",
          2);
  private static final Map<String, Object> CONFIG =
      Map.of("lr", 0.01, "batch_size", 64, "optimizer", Map.of("name", "adam"));

  @TempDir Path runDir;
  private final FakeClock clock = new FakeClock(T0);

  private TensorBoardTracker tracker(TensorBoardConfig config) {
    return TensorBoardTracker.create(config, clock);
  }

  private TensorBoardTracker started(TensorBoardConfig config, Optional<ResumeInfo> resume)
      throws Exception {
    TensorBoardTracker t = tracker(config);
    t.runStarted(
        new RunStart("abcd1234", "mnist-1", runDir, clock.instant(), CONFIG, DEVICES, resume));
    return t;
  }

  private TensorBoardTracker started() throws Exception {
    return started(TensorBoardConfig.defaults(), Optional.empty());
  }

  private MetricsRecord step(long step, Map<String, Double> values) {
    return new MetricsRecord(MetricsRecord.Kind.STEP, step, 1, clock.instant(), values, Map.of());
  }

  private MetricsRecord epoch(long step, int epoch, Map<String, Double> values) {
    return new MetricsRecord(
        MetricsRecord.Kind.EPOCH, step, epoch, clock.instant(), values, Map.of());
  }

  private Path logDir() {
    return runDir.resolve("tensorboard");
  }

  /** What TensorBoard shows now, asserting every file is intact to its end. */
  private TensorBoardView view() throws Exception {
    TensorBoardView view = TensorBoardView.load(logDir());
    assertThat(view.endings.values())
        .allSatisfy(r -> assertThat(r.end()).isEqualTo(TfRecordReader.End.CLEAN));
    return view;
  }

  @Test
  void writesEveryMetricAtItsStepKeepingZeroNanAndInfinity() throws Exception {
    try (TensorBoardTracker t = started()) {
      t.metrics(step(1, Map.of("train_loss", 0.0, "lr", 0.1)));
      t.metrics(step(2, Map.of("train_loss", Double.NaN, "lr", Double.POSITIVE_INFINITY)));
      t.metrics(
          epoch(
              2, 1, Map.of("train_loss", 1.5, "test_acc", Double.NEGATIVE_INFINITY, "epoch", 1.0)));
      t.runEnded(new RunEnd(RunEnd.Outcome.FINISHED, 2, 1, clock.instant(), Optional.empty()));
    }

    TensorBoardView view = view();
    assertThat(view.tagsOf("scalars"))
        .contains(
            "step/train_loss", "step/lr", "epoch/train_loss", "epoch/test_acc", "epoch/epoch");
    assertThat(view.steps("step/train_loss")).containsExactly(1L, 2L);
    assertThat(view.scalars("step/train_loss")).containsExactly(0.0f, Float.NaN);
    assertThat(view.scalars("step/lr")).containsExactly(0.1f, Float.POSITIVE_INFINITY);
    assertThat(view.scalars("epoch/test_acc")).containsExactly(Float.NEGATIVE_INFINITY);
    assertThat(view.steps("epoch/train_loss")).containsExactly(2L);
    assertThat(view.points("epoch/epoch").get(0).wallTime()).isEqualTo(1.7e9);
  }

  @Test
  void eventFileIsNamedByTimeHostPidAndCounterAndStartsWithFileVersion() throws Exception {
    try (TensorBoardTracker t = started()) {
      t.metrics(step(1, Map.of("train_loss", 1.0)));
    }

    TensorBoardView view = view();
    assertThat(view.files).hasSize(1);
    assertThat(view.files.get(0).getFileName().toString())
        .matches(
            "events\\.out\\.tfevents\\.1700000000\\.[A-Za-z0-9._-]+\\."
                + ProcessHandle.current().pid()
                + "\\.\\d+");
    DynamicMessage first = view.events.get(0);
    assertThat(get(first, "file_version")).isEqualTo("brain.Event:2");
    assertThat(get(first, "wall_time")).isEqualTo(1.7e9);
  }

  @Test
  void configAndDeviceReportAreTextSummariesAtStepZero() throws Exception {
    started().close();

    TensorBoardView view = view();
    assertThat(view.tagsOf("text")).contains("kiln/config", "kiln/devices");
    assertThat(view.steps("kiln/config")).containsExactly(0L);
    assertThat(view.steps("kiln/devices")).containsExactly(0L);
    assertThat(TensorBoardView.text(view.points("kiln/config").get(0)))
        .contains("| batch_size | 64 |", "| lr | 0.01 |", "| optimizer.name | adam |");
    assertThat(TensorBoardView.text(view.points("kiln/devices").get(0)))
        .contains("PyTorch 2.7.1", "auto: no CUDA GPU visible", "cpu(): CPU");
    DynamicMessage tensor =
        (DynamicMessage) get(view.points("kiln/config").get(0).value(), "tensor");
    assertThat(get(tensor, "dtype")).isEqualTo(7);
    assertThat((List<?>) get(tensor, "tensor_shape.dim")).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(RunEnd.Outcome.class)
  void hparamsListTheRunWithItsConfigAndFinalStatus(RunEnd.Outcome outcome) throws Exception {
    try (TensorBoardTracker t = started()) {
      t.metrics(epoch(10, 1, Map.of("test_acc", 0.9)));
      t.runEnded(
          new RunEnd(
              outcome,
              10,
              1,
              clock.instant().plusSeconds(60),
              outcome == RunEnd.Outcome.FAILED ? Optional.of("boom") : Optional.empty()));
    }

    TensorBoardView view = view();
    assertThat(view.tagsOf("hparams")).contains("_hparams_/session_start_info");
    DynamicMessage start =
        (DynamicMessage) get(view.hparams("_hparams_/session_start_info"), "session_start_info");
    Map<String, Object> hparams = new HashMap<>();
    for (Object entry : (List<?>) get(start, "hparams")) {
      Message e = (Message) entry;
      Message value = (Message) get(e, "value");
      Object v =
          has(value, "number_value")
              ? get(value, "number_value")
              : has(value, "string_value") ? get(value, "string_value") : get(value, "bool_value");
      hparams.put((String) get(e, "key"), v);
    }
    assertThat(hparams)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("lr", 0.01, "batch_size", 64.0, "optimizer.name", "adam"));
    assertThat(get(start, "group_name")).isEqualTo("abcd1234");
    assertThat(get(view.hparams("_hparams_/session_start_info"), "version")).isEqualTo(0);

    if (outcome == RunEnd.Outcome.INTERRUPTED) {
      assertThat(view.pluginByTag).doesNotContainKey("_hparams_/session_end_info");
    } else {
      DynamicMessage end =
          (DynamicMessage) get(view.hparams("_hparams_/session_end_info"), "session_end_info");
      assertThat(get(end, "status")).isEqualTo(outcome == RunEnd.Outcome.FINISHED ? 1 : 2);
      assertThat((Double) get(end, "end_time_secs")).isCloseTo(1.7e9 + 60, within(1e-3));
    }
    assertThat(TensorBoardView.text(view.points("kiln/outcome").get(0)))
        .contains(outcome == RunEnd.Outcome.FAILED ? "Failed: boom" : "at step 10");
    assertThat(view.scalars("epoch/test_acc")).containsExactly(0.9f);
  }

  @Test
  void hparamsExperimentListsConfigAndEpochMetricsWhenEnabled() throws Exception {
    try (TensorBoardTracker t =
        started(TensorBoardConfig.builder().hparamsExperiment(true).build(), Optional.empty())) {
      t.metrics(step(5, Map.of("train_loss", 1.0)));
      t.metrics(epoch(10, 1, Map.of("test_acc", 0.9, "train_loss", 0.5)));
      t.summary(new Summary(10, Map.of("best_test_acc", 0.9)));
      t.runEnded(new RunEnd(RunEnd.Outcome.FINISHED, 10, 1, clock.instant(), Optional.empty()));
    }

    DynamicMessage experiment =
        (DynamicMessage) get(view().hparams("_hparams_/experiment"), "experiment");
    List<String> hparamNames = new ArrayList<>();
    for (Object info : (List<?>) get(experiment, "hparam_infos")) {
      hparamNames.add((String) get((Message) info, "name"));
    }
    List<String> metricTags = new ArrayList<>();
    for (Object info : (List<?>) get(experiment, "metric_infos")) {
      metricTags.add((String) get((Message) info, "name.tag"));
    }
    assertThat(hparamNames).containsExactly("batch_size", "lr", "optimizer.name");
    assertThat(metricTags)
        .containsExactly("epoch/test_acc", "epoch/train_loss", "summary/best_test_acc");
  }

  @Test
  void histogramsAreWrittenOncePerConfiguredNumberOfEpochs() throws Exception {
    Histogram weights =
        new Histogram(
            "params/linear.weight",
            -1,
            2,
            10,
            3,
            9,
            new double[] {0, 1, 2},
            new double[] {4, 0, 6});
    Histogram broken =
        new Histogram("params/bad", 0, 1, 1, 1, 1, new double[] {1, 2}, new double[] {1});
    try (TensorBoardTracker t =
        started(TensorBoardConfig.builder().histogramEveryEpochs(2).build(), Optional.empty())) {
      for (int e = 1; e <= 5; e++) {
        t.metrics(epoch(e * 10L, e, Map.of("train_loss", 1.0 / e)));
        t.histograms(new HistogramRecord(e * 10L, clock.instant(), List.of(weights, broken)));
      }
    }

    TensorBoardView view = view();
    assertThat(view.tagsOf("histograms")).containsExactly("params/linear.weight");
    assertThat(view.steps("params/linear.weight")).containsExactly(10L, 30L, 50L);
    DynamicMessage histo =
        (DynamicMessage) get(view.points("params/linear.weight").get(0).value(), "histo");
    assertThat(get(histo, "min")).isEqualTo(-1.0);
    assertThat(get(histo, "max")).isEqualTo(2.0);
    assertThat(get(histo, "num")).isEqualTo(10.0);
    assertThat(get(histo, "sum_squares")).isEqualTo(9.0);
    assertThat(get(histo, "bucket_limit")).isEqualTo(List.of(0.0, 1.0, 2.0));
    assertThat(get(histo, "bucket")).isEqualTo(List.of(4.0, 0.0, 6.0));
  }

  @Test
  void tagsAreSanitizedAsTensorBoardDoes() throws Exception {
    try (TensorBoardTracker t = started()) {
      t.metrics(step(1, Map.of("val loss (%)", 1.0)));
    }

    assertThat(view().tagsOf("scalars")).containsExactly("step/val_loss____");
  }

  @Test
  void resumedRunShowsOneLineWithoutDuplicateStepsOrPointsFromTheLostProcess() throws Exception {
    // Process 1: step metrics every 10 steps, epochs of 100 steps, checkpoint at each epoch end.
    TensorBoardTracker lost = started();
    for (long s = 10; s <= 210; s += 10) {
      lost.metrics(step(s, Map.of("train_loss", s + 0.5)));
      if (s % 100 == 0) {
        lost.metrics(epoch(s, (int) (s / 100), Map.of("train_loss", s + 0.5)));
        lost.flush(); // epoch end
        lost.flush(); // checkpoint committed at step s
      }
    }
    lost.flush(); // e.g. the flush interval passed: step 210 is on disk
    lost.metrics(step(212, Map.of("train_loss", 212.5))); // buffered only
    // kill -9: the lost tracker is never closed.

    // Process 2, in the same second: resumes from the checkpoint at step 200.
    try (TensorBoardTracker resumed =
        started(TensorBoardConfig.defaults(), Optional.of(new ResumeInfo(200, 2, "ckpt-200")))) {
      for (long s = 210; s <= 300; s += 10) {
        resumed.metrics(step(s, Map.of("train_loss", s + 0.25)));
      }
      resumed.metrics(epoch(300, 3, Map.of("train_loss", 300.25)));
      resumed.runEnded(
          new RunEnd(RunEnd.Outcome.FINISHED, 300, 3, clock.instant(), Optional.empty()));
    }

    TensorBoardView view = view();
    assertThat(view.files).hasSize(2);
    assertThat(view.steps("step/train_loss"))
        .containsExactlyElementsOf(LongStream.rangeClosed(1, 30).map(i -> i * 10).boxed().toList());
    assertThat(view.scalars("step/train_loss"))
        .containsExactlyElementsOf(
            LongStream.rangeClosed(1, 30)
                .map(i -> i * 10)
                .mapToObj(s -> (float) (s + (s <= 200 ? 0.5 : 0.25)))
                .toList());
    assertThat(view.steps("epoch/train_loss")).containsExactly(100L, 200L, 300L);
    assertThat(TensorBoardView.text(view.points("kiln/devices").get(1)))
        .contains("Resumed from checkpoint `ckpt-200` at step 200");
  }

  @Test
  void secondResumeFromAnEarlierCheckpointAlsoLeavesOneLine() throws Exception {
    TensorBoardTracker first = started();
    for (long s = 1; s <= 30; s++) {
      first.metrics(step(s, Map.of("train_loss", 1.0)));
    }
    first.flush();
    TensorBoardTracker second =
        started(TensorBoardConfig.defaults(), Optional.of(new ResumeInfo(20, 2, "ckpt-20")));
    for (long s = 21; s <= 40; s++) {
      second.metrics(step(s, Map.of("train_loss", 2.0)));
    }
    second.flush();
    clock.advance(Duration.ofSeconds(5));
    try (TensorBoardTracker third =
        started(TensorBoardConfig.defaults(), Optional.of(new ResumeInfo(35, 3, "ckpt-35")))) {
      for (long s = 36; s <= 50; s++) {
        third.metrics(step(s, Map.of("train_loss", 3.0)));
      }
    }

    TensorBoardView view = view();
    assertThat(view.steps("step/train_loss"))
        .containsExactlyElementsOf(LongStream.rangeClosed(1, 50).boxed().toList());
    assertThat(view.scalars("step/train_loss").subList(19, 21)).containsExactly(1.0f, 2.0f);
    assertThat(view.scalars("step/train_loss").subList(34, 36)).containsExactly(2.0f, 3.0f);
  }

  @Test
  void newFileSortsAfterAnExistingFileWhoseClockWasAhead() throws Exception {
    Files.createDirectories(logDir());
    Path existing = logDir().resolve("events.out.tfevents.1800000000.other-host.7.0");
    Files.write(existing, new byte[0]);

    started().close();

    try (var files = Files.list(logDir())) {
      List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
      assertThat(names).hasSize(2);
      assertThat(names.get(0)).isEqualTo(existing.getFileName().toString());
      assertThat(names.get(1)).startsWith("events.out.tfevents.1800000001.");
    }
  }

  @Test
  void bufferedRecordsReachTheDiskOnlyAtFlushOrWhenTheFlushIntervalPassed() throws Exception {
    TensorBoardTracker t =
        started(
            TensorBoardConfig.builder().flushInterval(Duration.ofSeconds(10)).build(),
            Optional.empty());
    t.metrics(step(1, Map.of("train_loss", 1.0)));
    assertThat(view().steps("step/train_loss")).isEmpty();

    t.flush();
    assertThat(view().steps("step/train_loss")).containsExactly(1L);

    t.metrics(step(2, Map.of("train_loss", 1.0)));
    clock.advance(Duration.ofSeconds(9));
    t.metrics(step(3, Map.of("train_loss", 1.0)));
    assertThat(view().steps("step/train_loss")).containsExactly(1L);

    clock.advance(Duration.ofSeconds(1));
    t.metrics(step(4, Map.of("train_loss", 1.0)));
    assertThat(view().steps("step/train_loss")).containsExactly(1L, 2L, 3L, 4L);
    t.close();
  }

  @Test
  void summaryIsWrittenAtFlushOncePerStep() throws Exception {
    try (TensorBoardTracker t = started()) {
      t.summary(new Summary(10, Map.of("best_test_acc", 0.9)));
      t.summary(new Summary(10, Map.of("best_test_acc", 0.95)));
      t.flush();
      t.summary(new Summary(10, Map.of("best_test_acc", 0.97)));
      t.flush();
      t.summary(new Summary(20, Map.of("best_test_acc", 0.99)));
    }

    TensorBoardView view = view();
    assertThat(view.steps("summary/best_test_acc")).containsExactly(10L, 20L);
    assertThat(view.scalars("summary/best_test_acc")).containsExactly(0.95f, 0.99f);
  }

  @Test
  void unwritableLogDirectoryIsReportedAtRunStartWithTheFix() throws Exception {
    Files.writeString(logDir(), "a file where the log directory should be");
    TensorBoardTracker t = tracker(TensorBoardConfig.defaults());

    assertThatThrownBy(
            () ->
                t.runStarted(
                    new RunStart(
                        "abcd1234", "mnist-1", runDir, T0, CONFIG, DEVICES, Optional.empty())))
        .hasMessageContaining("cannot write TensorBoard logs to " + logDir() + ": ")
        .hasMessageContaining("FileAlreadyExistsException")
        .hasMessageEndingWith("— make it writable or set KILN_TENSORBOARD_DIR");
    t.metrics(step(1, Map.of("train_loss", 1.0))); // ignored, not thrown
    t.close();
  }

  @Test
  void truncatingTheLastRecordAtAnyByteLeavesEveryEarlierRecordValid() throws Exception {
    try (TensorBoardTracker t = started()) {
      for (long s = 1; s <= 5; s++) {
        t.metrics(step(s, Map.of("train_loss", (double) s)));
      }
    }
    Path file = view().files.get(0);
    byte[] whole = Files.readAllBytes(file);
    int records = TfRecordReader.read(whole).payloads().size();
    int lastLength = 12 + TfRecordReader.read(whole).payloads().get(records - 1).length + 4;

    for (int cut = whole.length - lastLength + 1; cut < whole.length; cut++) {
      TfRecordReader.Result r = TfRecordReader.read(Arrays.copyOf(whole, cut));
      assertThat(r.end()).as("cut at %d", cut).isEqualTo(TfRecordReader.End.TRUNCATED);
      assertThat(r.payloads()).hasSize(records - 1);
    }
    byte[] flipped = whole.clone();
    flipped[whole.length - 6] ^= 1;
    assertThat(TfRecordReader.read(flipped).end()).isEqualTo(TfRecordReader.End.CORRUPT);
  }

  @Test
  void killMinus9LosesAtMostTheUnflushedTail() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process child =
        new ProcessBuilder(
                java.toString(),
                "-XX:TieredStopAtLevel=1",
                "-Xshare:auto",
                "-cp",
                System.getProperty("java.class.path"),
                KilledWriterMain.class.getName(),
                runDir.toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    long flushed =
        assertTimeoutPreemptively(
            Duration.ofSeconds(40),
            () -> {
              try (BufferedReader out =
                  new BufferedReader(
                      new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                long last = 0;
                String line;
                while (last < 3000 && (line = out.readLine()) != null) {
                  last = Long.parseLong(line.substring("flushed ".length()));
                }
                child.destroyForcibly(); // SIGKILL mid-write
                child.waitFor();
                return last;
              }
            });

    assertThat(flushed).isGreaterThanOrEqualTo(3000);
    TensorBoardView view = TensorBoardView.load(logDir());
    assertThat(view.endings.values())
        .allSatisfy(r -> assertThat(r.end()).isNotEqualTo(TfRecordReader.End.CORRUPT));
    List<Long> steps = view.steps("step/train_loss");
    assertThat(steps.size()).isGreaterThanOrEqualTo((int) flushed);
    assertThat(steps).isEqualTo(LongStream.rangeClosed(1, steps.size()).boxed().toList());
  }
}
