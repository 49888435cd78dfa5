package dev.kiln.internal;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterServer;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.kiln.EpochResult;
import dev.kiln.FitResult;
import dev.kiln.TrainerConfig;
import dev.kiln.TrainingException;
import dev.kiln.optim.GradientClipping;
import dev.kiln.optim.OptimizerState;
import dev.kiln.tracking.DeviceReport;
import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.ResumeInfo;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import dev.kiln.tracking.TrackerContext;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One call of {@code Trainer.fit}: the whole run in this process. */
public final class TrainingLoop {

  private static final Logger log = LoggerFactory.getLogger(TrainingLoop.class);
  static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private final Model model;
  private final Block block;
  private final RandomAccessDataset train;
  private final RandomAccessDataset validation;
  private final TrainerConfig config;
  private final PrintStream out = System.out;

  private List<Device> devices;
  private DeviceReport deviceReport;
  private ParameterStore parameterStore;
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  private OptimizerState optimizerState;
  private TrackerDispatcher trackers;
  private CheckpointSupport checkpoints;
  private ExecutorService workers;
  private String runId;
  private String runName;
  private Path runDirectory;

  // Position: completed epochs, global step, batches done in the current epoch.
  private int epoch;
  private long step;
  private long batchInEpoch;
  private final Map<String, Double> best = new LinkedHashMap<>();
  private final Map<String, Double> epochAccumulators = new LinkedHashMap<>();
  private final List<EpochResult> results = new ArrayList<>();
  private boolean firstBatchChecked;
  // Gradients are zeroed after every step, so their histograms are taken at the epoch's last step.
  private boolean captureGradientHistograms;
  private List<HistogramRecord.Histogram> gradientHistograms = List.of();
  private final StopSignal stop;

  public TrainingLoop(
      Model model,
      RandomAccessDataset train,
      RandomAccessDataset validation,
      TrainerConfig config) {
    this.model = model;
    this.block = model.getBlock();
    this.train = train;
    this.validation = validation;
    this.config = config;
    this.stop = new StopSignal(config.deadline().orElse(null), config.clock());
  }

  /** Runs the whole fit. */
  public FitResult run() {
    if (config.engineTuning()) {
      EngineTuning.applyMallocTuning();
    }
    checkDatasets();
    // Everything that can be checked without touching the disk is checked before anything is
    // written.
    TrackerLoader loader = new TrackerLoader(Thread.currentThread().getContextClassLoader());
    List<String> names = trackerNames();
    loader.check(names);
    selectDevices();
    resolveRunDirectory();
    try (RunLock lock = RunLock.acquire(runDirectory)) {
      return runLocked(loader, names);
    }
  }

  /** The fit, once this process holds the run directory. */
  private FitResult runLocked(TrackerLoader loader, List<String> names) {
    checkpoints = new CheckpointSupport(runDirectory, runName, config, deviceReport);
    Optional<CheckpointSupport.Loaded> resumeFrom;
    try {
      resumeFrom = checkpoints.findResumePoint(config.resume());
    } catch (RuntimeException e) {
      checkpoints.close();
      throw e;
    }
    runId = resumeFrom.map(CheckpointSupport.Loaded::runId).orElseGet(TrainingLoop::newRunId);
    writeRunFiles();

    TrackerContext context = new TrackerContext(runDirectory, trackerSettings(), config.clock());
    TrackerLoader.Created created = loader.create(names, context);
    if (config.failOnTrackerError() && !created.failures().isEmpty()) {
      Map.Entry<String, Exception> f = created.failures().entrySet().iterator().next();
      throw new TrainingException(
          "Tracker '" + f.getKey() + "' could not be created: " + f.getValue().getMessage(),
          f.getValue());
    }
    List<ExperimentTracker> all = new ArrayList<>(config.trackers());
    all.addAll(created.trackers());
    ThreadFactory threads = threadFactory("kiln");
    trackers = new TrackerDispatcher(all, threads);

    RunEnd.Outcome outcome = RunEnd.Outcome.FAILED;
    Optional<String> failure = Optional.empty();
    stop.install(config.handleSignals());
    try (NDManager runManager = model.getNDManager().newSubManager()) {
      workers =
          config.workers() == 0
              ? null
              : Executors.newFixedThreadPool(config.workers(), threadFactory("kiln-data"));
      initialize(runManager);
      resumeFrom.ifPresent(this::restore);
      startTrackers(resumeFrom);
      outcome = loop(runManager);
    } catch (RuntimeException | Error e) {
      failure = Optional.of(e.toString());
      throw e;
    } finally {
      stop.uninstall();
      if (workers != null) {
        workers.shutdownNow();
      }
      trackers.end(
          new RunEnd(outcome, step, epoch, config.clock().instant(), failure),
          config.trackerTimeout());
      trackers.close();
      try {
        checkpoints.close();
      } catch (RuntimeException e) {
        log.error(
            "A background checkpoint failed while the run was already failing: {}", e.getMessage());
      }
      if (optimizerState instanceof AutoCloseable c) {
        try {
          c.close();
        } catch (Exception e) {
          log.debug("closing optimizer state", e);
        }
      }
    }
    return new FitResult(
        runId,
        runDirectory,
        outcome,
        results,
        step,
        checkpoints.lastCommitted(),
        trackers.failures(),
        trackers.dropped());
  }

  // ---------------------------------------------------------------- setup

  private void checkDatasets() {
    if (train.size() == 0) {
      throw new IllegalArgumentException(
          "train dataset is empty — check the data path and any limit you set");
    }
    if (validation.size() == 0) {
      throw new IllegalArgumentException(
          "validation dataset is empty — check the data path and any limit you set");
    }
  }

  private void selectDevices() {
    String source;
    String spec;
    if (config.devices().isPresent()) {
      spec = config.devices().get();
      source = "config";
    } else if (System.getProperty("KILN_DEVICES") != null) {
      spec = System.getProperty("KILN_DEVICES");
      source = "system property KILN_DEVICES";
    } else if (System.getenv("KILN_DEVICES") != null) {
      spec = System.getenv("KILN_DEVICES");
      source = "environment KILN_DEVICES";
    } else {
      spec = "auto";
      source = "default";
    }
    DeviceSpec parsed;
    try {
      parsed = DeviceSpec.parse(spec);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage() + " (from " + source + ")", e);
    }
    Engine engine = Engine.getInstance();
    DeviceSelector.Selection selection =
        new DeviceSelector(GpuProbe.system())
            .select(
                parsed,
                source,
                engine.getEngineName(),
                engine.getVersion(),
                Runtime.getRuntime().availableProcessors());
    devices = selection.devices();
    deviceReport = selection.report();
    log.info("Devices: {}", deviceReport.describe());
  }

  private void resolveRunDirectory() {
    runName =
        config
            .runName()
            .orElseGet(
                () ->
                    config
                        .runDirectory()
                        .map(p -> p.getFileName().toString())
                        .orElseGet(
                            () ->
                                "run-"
                                    + DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
                                        .withZone(ZoneOffset.UTC)
                                        .format(config.clock().instant())));
    runDirectory = config.runDirectory().orElse(Paths.get("runs", runName)).toAbsolutePath();
    try {
      Files.createDirectories(runDirectory);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "Cannot create the run directory "
              + runDirectory
              + ": "
              + e
              + " — choose a writable runDirectory",
          e);
    }
  }

  static String newRunId() {
    String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    java.security.SecureRandom r = new java.security.SecureRandom();
    StringBuilder sb = new StringBuilder(8);
    for (int i = 0; i < 8; i++) {
      sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return sb.toString();
  }

  private void writeRunFiles() {
    try {
      Map<String, Object> cfg = new LinkedHashMap<>(config.describe());
      cfg.put("run_id", runId);
      cfg.put("run_name", runName);
      cfg.put("devices", deviceReport.devices().stream().map(DeviceReport.Device::id).toList());
      writeJson(runDirectory.resolve("config.json"), cfg);
      writeJson(runDirectory.resolve("device.json"), deviceReport);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "Cannot write config.json in " + runDirectory + ": " + e.getMessage(), e);
    }
  }

  static void writeJson(Path file, Object value) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, JSON.writeValueAsBytes(value));
    Files.move(
        tmp,
        file,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  private List<String> trackerNames() {
    if (config.trackerNames().isPresent()) {
      return config.trackerNames().get();
    }
    String fromEnv = System.getProperty("KILN_TRACKERS", System.getenv("KILN_TRACKERS"));
    if (fromEnv != null) {
      return Arrays.stream(fromEnv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
    return List.of("console", "jsonl");
  }

  private Map<String, String> trackerSettings() {
    Map<String, String> s = new LinkedHashMap<>(System.getenv());
    for (String name : System.getProperties().stringPropertyNames()) {
      s.put(name, System.getProperty(name));
    }
    s.putAll(config.trackerSettings());
    return s;
  }

  private ThreadFactory threadFactory(String prefix) {
    ThreadFactory base = config.threadFactory();
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = base != null ? base.newThread(r) : new Thread(r);
      t.setName(prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** Initializes the block from the first batch's shape and places parameters on every device. */
  private void initialize(NDManager runManager) {
    long[] order = order(0);
    try (BatchLoader probe =
            new BatchLoader(
                train, order, Math.min(config.batchSize(), order.length), 0, runManager, null, 1);
        BatchLoader.LoadedBatch first = probe.next()) {
      Shape[] shapes = first.data().getShapes();
      if (!block.isInitialized()) {
        Engine.getInstance().setRandomSeed(seedFor(config.seed(), -1));
        try {
          block.initialize(model.getNDManager(), DataType.FLOAT32, shapes);
        } catch (RuntimeException e) {
          throw shapeError("The training data does not fit the model", first, e);
        }
      }
    }
    parameterStore = new ParameterStore(model.getNDManager(), false);
    parameterStore.setParameterServer(new NoOpParameterServer(), devices.toArray(new Device[0]));
    for (Pair<String, Parameter> p : block.getParameters()) {
      Parameter parameter = p.getValue();
      if (!parameter.requiresGradient()) {
        continue;
      }
      parameters.put(p.getKey(), parameter);
      for (Device d : devices) {
        parameterStore.getValue(parameter, d, true);
      }
    }
    optimizerState = config.optimizer().newState();
  }

  private TrainingException shapeError(String what, BatchLoader.LoadedBatch batch, Exception e) {
    String expected = "";
    try {
      Shape[] in = block.getInputShapes();
      if (in != null && in.length > 0) {
        expected = ", the model expects input shape " + Arrays.toString(in);
      }
    } catch (RuntimeException ignored) {
      // an uninitialized block cannot say
    }
    return new TrainingException(
        what
            + ": the first batch has input shape "
            + Arrays.toString(batch.data().getShapes())
            + " and label shape "
            + Arrays.toString(batch.labels().getShapes())
            + expected
            + " ("
            + e.getMessage()
            + ") — make the dataset's records match the model's input, or change the model",
        e);
  }

  private void startTrackers(Optional<CheckpointSupport.Loaded> resumeFrom) {
    Optional<ResumeInfo> resume =
        resumeFrom.map(l -> new ResumeInfo(l.step(), l.epoch(), l.name()));
    Map<String, Object> cfg = new LinkedHashMap<>(config.describe());
    cfg.put("devices", deviceReport.devices().stream().map(DeviceReport.Device::id).toList());
    Map<String, Throwable> failed =
        trackers.start(
            new RunStart(
                runId, runName, runDirectory, config.clock().instant(), cfg, deviceReport, resume),
            config.trackerTimeout());
    if (config.failOnTrackerError() && !failed.isEmpty()) {
      Map.Entry<String, Throwable> f = failed.entrySet().iterator().next();
      throw new TrainingException(
          "Tracker '" + f.getKey() + "' failed to start: " + f.getValue().getMessage(),
          f.getValue());
    }
  }

  // ---------------------------------------------------------------- the loop

  private RunEnd.Outcome loop(NDManager runManager) {
    List<Evaluator> evaluators = config.evaluators();
    for (Evaluator e : evaluators) {
      e.addAccumulator("validate");
    }
    boolean terminal = System.console() != null;
    while (epoch < config.epochs()) {
      EpochOutcome o = trainEpoch(runManager, terminal);
      if (o.stopped) {
        // Before the final save, which may outlast a preemption notice.
        trackers.stopRequested(
            new StopRequest(stop.reason(), step, epoch, config.clock().instant()));
        checkpoints.saveFinal(this, "stop requested: " + stop.reason());
        trackers.flush();
        log.info(
            "Stopped ({}) at epoch {}, step {}; checkpoint written — resume to continue",
            stop.reason(),
            epoch + 1,
            step);
        return RunEnd.Outcome.INTERRUPTED;
      }
    }
    checkpoints.awaitPending();
    return RunEnd.Outcome.FINISHED;
  }

  private record EpochOutcome(boolean stopped) {}

  private EpochOutcome trainEpoch(NDManager runManager, boolean terminal) {
    Clock c = new Clock(config.clock());
    long[] order = order(epoch);
    long batches = BatchLoader.batchCount(order.length, config.batchSize());
    double lr = learningRate();
    long epochStart = c.nanos();
    double dataWait = 0;
    double compute = 0;
    double tracking = 0;
    double checkpointTime = 0;
    long samples = 0;
    double lossSum = epochAccumulators.getOrDefault("loss_sum", 0.0);
    long lossCount = epochAccumulators.getOrDefault("loss_count", 0.0).longValue();
    long skipped = epochAccumulators.getOrDefault("skipped", 0.0).longValue();
    ProgressBar bar =
        config.progress() == TrainerConfig.Progress.OFF
            ? null
            : new ProgressBar(out, terminal, epoch + 1, config.epochs(), batches);
    try (BatchLoader loader =
        new BatchLoader(
            train,
            order,
            config.batchSize(),
            batchInEpoch,
            runManager,
            workers,
            config.prefetch())) {
      while (loader.hasNext()) {
        long t0 = c.nanos();
        BatchLoader.LoadedBatch batch = loader.next();
        long t1 = c.nanos();
        dataWait += (t1 - t0) / 1e9;
        captureGradientHistograms = !loader.hasNext() && histogramsDue(epoch + 1);
        double loss;
        try (batch) {
          if (config.scheduleInterval() == TrainerConfig.ScheduleInterval.STEP) {
            lr = learningRate();
          }
          loss = trainBatch(batch, lr);
        }
        long t2 = c.nanos();
        compute += (t2 - t1) / 1e9;
        batchInEpoch++;
        samples += batch.size();
        if (Double.isFinite(loss)) {
          lossSum += loss * batch.size();
          lossCount += batch.size();
        } else {
          skipped++;
        }
        if (config.logEverySteps() > 0 && step % config.logEverySteps() == 0) {
          long tt = c.nanos();
          trackers.metrics(
              new MetricsRecord(
                  MetricsRecord.Kind.STEP,
                  step,
                  epoch + 1,
                  config.clock().instant(),
                  Map.of("train_loss", loss, "lr", lr),
                  Map.of()));
          tracking += (c.nanos() - tt) / 1e9;
        }
        double elapsed = (c.nanos() - epochStart) / 1e9;
        if (bar != null) {
          double rate = samples / Math.max(elapsed, 1e-9);
          long left = batches - batchInEpoch;
          bar.update(
              batchInEpoch,
              lossCount == 0 ? Double.NaN : lossSum / lossCount,
              rate,
              left * (elapsed / Math.max(1, batchInEpoch)),
              c.nanos());
        }
        stop.observeStep((c.nanos() - t0) / 1e9);
        if (stop.requested(checkpoints.estimatedSaveSeconds())) {
          epochAccumulators.put("loss_sum", lossSum);
          epochAccumulators.put("loss_count", (double) lossCount);
          epochAccumulators.put("skipped", (double) skipped);
          return new EpochOutcome(true);
        }
        if (loader.hasNext() && checkpoints.dueMidEpoch(step)) {
          epochAccumulators.put("loss_sum", lossSum);
          epochAccumulators.put("loss_count", (double) lossCount);
          epochAccumulators.put("skipped", (double) skipped);
          long ts = c.nanos();
          checkpoints.save(this, Map.of());
          trackers.flush();
          checkpointTime += (c.nanos() - ts) / 1e9;
        }
      }
    }
    double trainingTime = (c.nanos() - epochStart) / 1e9 - checkpointTime;

    long tv = c.nanos();
    Map<String, Double> val = validate(runManager);
    double validationTime = (c.nanos() - tv) / 1e9;
    stop.observeValidation(validationTime);

    epoch++;
    batchInEpoch = 0;
    epochAccumulators.clear();
    Map<String, Double> metrics = new LinkedHashMap<>();
    metrics.put("epoch", (double) epoch);
    metrics.put("train_loss", lossCount == 0 ? Double.NaN : lossSum / lossCount);
    metrics.putAll(val);
    metrics.put("lr", lr);
    metrics.put("time_taken", trainingTime);
    metrics.put("time_data", dataWait);
    metrics.put("time_compute", compute);
    metrics.put("time_validation", validationTime);
    metrics.put("samples_per_sec", samples / Math.max(trainingTime, 1e-9));
    if (skipped > 0) {
      metrics.put("skipped_batches", (double) skipped);
    }
    updateBest(metrics);

    long tc = c.nanos();
    if (checkpoints.dueAtEpochEnd(epoch, step)) {
      checkpoints.save(this, metrics);
    }
    checkpointTime += (c.nanos() - tc) / 1e9;
    metrics.put("time_checkpoint", checkpointTime);
    metrics.put("time_tracking", tracking);
    String verdict =
        Verdict.judge(
            trainingTime, dataWait, validationTime, tracking, checkpointTime, config.workers());
    long tt = c.nanos();
    trackers.metrics(
        new MetricsRecord(
            MetricsRecord.Kind.EPOCH,
            step,
            epoch,
            config.clock().instant(),
            metrics,
            Map.of("verdict", verdict)));
    Map<String, Double> summary = new LinkedHashMap<>(metrics);
    best.forEach((k, v) -> summary.put("best_" + k, v));
    trackers.summary(new Summary(step, summary));
    if (histogramsDue(epoch)) {
      trackers.histograms(
          Histograms.of(
              parameters,
              devices.get(0),
              parameterStore,
              gradientHistograms,
              step,
              config.clock().instant()));
      gradientHistograms = List.of();
    }
    trackers.flush();
    tracking += (c.nanos() - tt) / 1e9;
    results.add(new EpochResult(epoch, step, metrics, verdict));
    return new EpochOutcome(
        stop.requested(checkpoints.estimatedSaveSeconds()) && epoch < config.epochs());
  }

  private boolean histogramsDue(int epochNumber) {
    return config.histogramEveryEpochs() > 0 && epochNumber % config.histogramEveryEpochs() == 0;
  }

  private void updateBest(Map<String, Double> metrics) {
    for (Map.Entry<String, Double> e : metrics.entrySet()) {
      String k = e.getKey();
      double v = e.getValue();
      if (!Double.isFinite(v)
          || !(k.endsWith("_loss") || k.startsWith(config.validationPrefix() + "_"))) {
        continue;
      }
      boolean lower = k.endsWith("_loss");
      Double old = best.get(k);
      if (old == null || (lower ? v < old : v > old)) {
        best.put(k, v);
      }
    }
  }

  private double learningRate() {
    long t = config.scheduleInterval() == TrainerConfig.ScheduleInterval.EPOCH ? epoch : step;
    return config.schedule().learningRate(config.optimizer().learningRate(), t);
  }

  /**
   * Forward, backward and one optimizer update over every device; returns the batch's loss. The
   * batch is cut into {@code devices × microBatches} shards; shard j runs on device {@code j /
   * microBatches}. Each shard's mean loss is scaled by its share of the batch, so the summed
   * gradients equal those of the whole batch's mean loss.
   */
  private double trainBatch(BatchLoader.LoadedBatch batch, double lr) {
    Engine.getInstance().setRandomSeed(seedFor(config.seed(), step));
    int m = config.microBatches();
    int shardCount = devices.size() * m;
    long n = batch.size();
    List<NDList[]> shards = Sharding.split(batch.data(), batch.labels(), shardCount);
    double loss = 0;
    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
      for (int j = 0; j < shards.size(); j++) {
        NDList[] shard = shards.get(j);
        Device d = devices.get(j / m);
        NDList x = shard[0].toDevice(d, false);
        NDList y = shard[1].toDevice(d, false);
        NDList pred;
        NDArray l;
        try {
          pred = block.forward(parameterStore, x, true);
          if (!firstBatchChecked) {
            LabelCheck.check(y, pred);
          }
          l = config.loss().evaluate(y, pred);
        } catch (TrainingException e) {
          throw e;
        } catch (RuntimeException e) {
          if (!firstBatchChecked) {
            throw shapeError("The training data does not fit the model", batch, e);
          }
          throw e;
        }
        long shardSize = shard[0].head().getShape().get(0);
        NDArray scaled = shards.size() == 1 ? l : l.mul((float) shardSize / n);
        collector.backward(scaled);
        // Reading the value joins this device's work before the update.
        loss += scaled.getFloat();
      }
    }
    firstBatchChecked = true;
    int usedDevices = (shards.size() + m - 1) / m;
    if (!Double.isFinite(loss)) {
      zeroGradients(usedDevices);
      if (config.nonFiniteLoss() == TrainerConfig.NonFiniteLoss.FAIL) {
        throw new TrainingException(
            String.format(
                Locale.ROOT,
                "Loss is %s at epoch %d, step %d (batch %d of the epoch) — lower the learning"
                    + " rate, clip gradients (gradientClipNorm), check the data for NaN, or"
                    + " skip such batches with nonFiniteLoss(SKIP_BATCH)",
                loss,
                epoch + 1,
                step + 1,
                batchInEpoch + 1));
      }
      log.warn("Loss is {} at epoch {}, step {}: batch skipped", loss, epoch + 1, step + 1);
      return loss;
    }
    update(lr, usedDevices);
    return loss;
  }

  /** Combines gradients on the primary device, clips, updates once, copies to replicas. */
  private void update(double lr, int usedDevices) {
    Device primary = devices.get(0);
    Map<String, NDArray> weights = new LinkedHashMap<>();
    Map<String, NDArray> grads = new LinkedHashMap<>();
    List<NDArray[]> handles = new ArrayList<>();
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      NDArray w = parameterStore.getValue(e.getValue(), primary, true);
      NDArray g = w.getGradient();
      handles.add(new NDArray[] {w, g});
      for (int i = 1; i < usedDevices; i++) {
        NDArray replica = parameterStore.getValue(e.getValue(), devices.get(i), true);
        NDArray rg = replica.getGradient();
        handles.add(new NDArray[] {replica, rg});
        NDArray moved = rg.toDevice(primary, true);
        g.addi(moved);
        moved.close();
      }
      weights.put(e.getKey(), w);
      grads.put(e.getKey(), g);
    }
    if (config.gradientClipNorm() > 0) {
      GradientClipping.clipByGlobalNorm(grads.values(), config.gradientClipNorm());
    }
    if (captureGradientHistograms) {
      captureGradientHistograms = false;
      gradientHistograms = Histograms.gradients(grads);
    }
    optimizerState.step(weights, grads, lr);
    step++;
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      NDArray w = weights.get(e.getKey());
      for (int i = 1; i < devices.size(); i++) {
        NDArray replica = parameterStore.getValue(e.getValue(), devices.get(i), true);
        w.copyTo(replica);
      }
    }
    zero(handles);
  }

  private void zeroGradients(int usedDevices) {
    List<NDArray[]> handles = new ArrayList<>();
    for (Parameter p : parameters.values()) {
      for (int i = 0; i < usedDevices; i++) {
        NDArray w = parameterStore.getValue(p, devices.get(i), true);
        handles.add(new NDArray[] {w, w.getGradient()});
      }
    }
    zero(handles);
  }

  /** Zeroes each {weight, gradient handle} pair's gradient in place and closes the handle. */
  private static void zero(List<NDArray[]> pairs) {
    for (NDArray[] pair : pairs) {
      if (pair[0] instanceof ai.djl.pytorch.engine.PtNDArray weight) {
        // The weight's grad.zero_(): one kernel, no index tensors, NaN-safe (unlike g - g).
        ai.djl.pytorch.jni.JniUtils.zeroGrad(weight);
      } else {
        pair[1].set(new NDIndex("..."), 0);
      }
      pair[1].close();
    }
  }

  private Map<String, Double> validate(NDManager runManager) {
    String prefix = config.validationPrefix();
    for (Evaluator e : config.evaluators()) {
      e.resetAccumulator("validate");
    }
    long[] order = new long[Math.toIntExact(validation.size())];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    double lossSum = 0;
    long count = 0;
    Device primary = devices.get(0);
    try (BatchLoader loader =
        new BatchLoader(
            validation,
            order,
            config.validationBatchSize(),
            0,
            runManager,
            workers,
            config.prefetch())) {
      while (loader.hasNext()) {
        try (BatchLoader.LoadedBatch batch = loader.next()) {
          NDList x = batch.data().toDevice(primary, false);
          NDList y = batch.labels().toDevice(primary, false);
          NDList pred = block.forward(parameterStore, x, false);
          NDArray l = config.loss().evaluate(y, pred);
          lossSum += l.getFloat() * batch.size();
          count += batch.size();
          for (Evaluator e : config.evaluators()) {
            e.updateAccumulator("validate", y, pred);
          }
        }
      }
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(prefix + "_loss", lossSum / count);
    for (Evaluator e : config.evaluators()) {
      m.put(
          prefix + "_" + e.getName().toLowerCase(Locale.ROOT),
          (double) e.getAccumulator("validate"));
    }
    return m;
  }

  // ---------------------------------------------------------------- data order and seeds

  /** The visiting order of epoch {@code e}: a permutation that depends only on (seed, e). */
  long[] order(int e) {
    int n = Math.toIntExact(train.size());
    long[] order = new long[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    SplittableRandom r = new SplittableRandom(mix(config.seed(), 0x9E3779B97F4A7C15L + e));
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      long t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  static int seedFor(long seed, long step) {
    return (int) (mix(seed, step) & 0x7fffffff);
  }

  static long mix(long a, long b) {
    long z = a * 0x9E3779B97F4A7C15L + b;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  // ---------------------------------------------------------------- checkpoint state access

  String runId() {
    return runId;
  }

  String runName() {
    return runName;
  }

  int epoch() {
    return epoch;
  }

  long step() {
    return step;
  }

  long batchInEpoch() {
    return batchInEpoch;
  }

  Map<String, Double> best() {
    return best;
  }

  Map<String, Double> epochAccumulators() {
    return epochAccumulators;
  }

  long trainSize() {
    return train.size();
  }

  Map<String, NDArray> weights() {
    Map<String, NDArray> m = new LinkedHashMap<>();
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      m.put(e.getKey(), parameterStore.getValue(e.getValue(), devices.get(0), true));
    }
    return m;
  }

  /** Non-trainable parameters too (e.g. batch-norm running statistics). */
  Map<String, NDArray> allParameterArrays() {
    Map<String, NDArray> m = new LinkedHashMap<>();
    for (Pair<String, Parameter> p : block.getParameters()) {
      m.put(p.getKey(), parameterStore.getValue(p.getValue(), devices.get(0), true));
    }
    return m;
  }

  OptimizerState optimizerState() {
    return optimizerState;
  }

  /** Copies primary-device weights to the other devices after a restore. */
  void syncReplicas() {
    for (Pair<String, Parameter> p : block.getParameters()) {
      NDArray w = parameterStore.getValue(p.getValue(), devices.get(0), true);
      for (int i = 1; i < devices.size(); i++) {
        w.copyTo(parameterStore.getValue(p.getValue(), devices.get(i), true));
      }
    }
  }

  private void restore(CheckpointSupport.Loaded loaded) {
    loaded.restoreInto(this);
    epoch = loaded.epoch();
    step = loaded.step();
    batchInEpoch = loaded.batchInEpoch();
    best.clear();
    best.putAll(loaded.best());
    epochAccumulators.clear();
    epochAccumulators.putAll(loaded.epochAccumulators());
    firstBatchChecked = true;
    log.info(
        "Resumed run {} from {}: epoch {} done, step {}, batch {} of the next epoch",
        runId,
        loaded.name(),
        epoch,
        step,
        batchInEpoch);
  }

  TrainerConfig config() {
    return config;
  }

  /** Nanosecond time from the configured clock. */
  private static final class Clock {
    private final java.time.Clock clock;

    Clock(java.time.Clock clock) {
      this.clock = clock;
    }

    long nanos() {
      Instant i = clock.instant();
      return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }
  }

  /** Parameters are combined by the loop itself; the store only needs a server to keep copies. */
  private static final class NoOpParameterServer implements ParameterServer {
    @Override
    public void init(String parameterId, NDArray[] value) {}

    @Override
    public void update(String parameterId, NDArray[] grads, NDArray[] params) {
      throw new UnsupportedOperationException("Kiln updates parameters itself");
    }

    @Override
    public void close() {}
  }

  static Duration seconds(double s) {
    return Duration.ofNanos((long) (s * 1e9));
  }
}
