package dev.kiln;

import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.training.loss.Loss;
import dev.kiln.optim.LrSchedule;
import dev.kiln.optim.LrSchedules;
import dev.kiln.optim.Optimizer;
import dev.kiln.tracking.ExperimentTracker;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;

/**
 * Everything {@link Trainer#fit} needs besides the model and the data. Immutable; build it with
 * {@link #builder(Loss, Optimizer)} and change a copy with {@link #toBuilder()}.
 *
 * <p>Bad values are rejected by {@link Builder#build()} with an error naming the field.
 */
public final class TrainerConfig {

  /** When the learning-rate schedule advances. */
  public enum ScheduleInterval {
    /** After each epoch, like PyTorch's {@code scheduler.step()} at the end of an epoch. */
    EPOCH,
    /** After each optimizer step. */
    STEP
  }

  /** What to do when a batch's loss is NaN or infinite. */
  public enum NonFiniteLoss {
    /** Stop training with an error naming epoch and step (default). */
    FAIL,
    /** Skip the batch: no update, counted in the epoch's {@code skipped_batches}. */
    SKIP_BATCH
  }

  /** Whether to draw a progress bar. */
  public enum Progress {
    /** A redrawn bar on a terminal, periodic plain lines otherwise (default). */
    AUTO,
    /** Never. */
    OFF
  }

  private final Loss loss;
  private final Optimizer optimizer;
  private final LrSchedule schedule;
  private final ScheduleInterval scheduleInterval;
  private final List<Evaluator> evaluators;
  private final int epochs;
  private final int batchSize;
  private final int validationBatchSize;
  private final String devices;
  private final int workers;
  private final int prefetch;
  private final int microBatches;
  private final long seed;
  private final String runName;
  private final Path runDirectory;
  private final List<ExperimentTracker> trackers;
  private final List<String> trackerNames;
  private final Map<String, String> trackerSettings;
  private final boolean failOnTrackerError;
  private final Duration trackerTimeout;
  private final int logEverySteps;
  private final NonFiniteLoss nonFiniteLoss;
  private final double gradientClipNorm;
  private final String validationPrefix;
  private final Progress progress;
  private final int histogramEveryEpochs;
  private final CheckpointPolicy checkpoints;
  private final Resume resume;
  private final Instant deadline;
  private final Path mirror;
  private final Duration mirrorTimeout;
  private final boolean handleSignals;
  private final boolean engineTuning;
  private final Clock clock;
  private final ThreadFactory threadFactory;

  private TrainerConfig(Builder b) {
    loss = b.loss;
    optimizer = b.optimizer;
    schedule = b.schedule;
    scheduleInterval = b.scheduleInterval;
    evaluators = List.copyOf(b.evaluators);
    epochs = b.epochs;
    batchSize = b.batchSize;
    validationBatchSize = b.validationBatchSize == 0 ? b.batchSize : b.validationBatchSize;
    devices = b.devices;
    workers = b.workers;
    prefetch = b.prefetch;
    microBatches = b.microBatches;
    seed = b.seed;
    runName = b.runName;
    runDirectory = b.runDirectory;
    trackers = List.copyOf(b.trackers);
    trackerNames = b.trackerNames == null ? null : List.copyOf(b.trackerNames);
    trackerSettings = Map.copyOf(b.trackerSettings);
    failOnTrackerError = b.failOnTrackerError;
    trackerTimeout = b.trackerTimeout;
    logEverySteps = b.logEverySteps;
    nonFiniteLoss = b.nonFiniteLoss;
    gradientClipNorm = b.gradientClipNorm;
    validationPrefix = b.validationPrefix;
    progress = b.progress;
    histogramEveryEpochs = b.histogramEveryEpochs;
    checkpoints = b.checkpoints;
    resume = b.resume;
    deadline = b.deadline;
    mirror = b.mirror;
    mirrorTimeout = b.mirrorTimeout;
    handleSignals = b.handleSignals;
    engineTuning = b.engineTuning;
    clock = b.clock;
    threadFactory = b.threadFactory;
  }

  /**
   * Starts a config with the two values every run needs.
   *
   * @param loss the training loss, e.g. {@code Loss.softmaxCrossEntropyLoss()}
   * @param optimizer a Kiln optimizer, e.g. {@code Adam.builder().build()}
   */
  public static Builder builder(Loss loss, Optimizer optimizer) {
    return new Builder(loss, optimizer);
  }

  /** A builder holding this config's values. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  public Loss loss() {
    return loss;
  }

  public Optimizer optimizer() {
    return optimizer;
  }

  public LrSchedule schedule() {
    return schedule;
  }

  public ScheduleInterval scheduleInterval() {
    return scheduleInterval;
  }

  public List<Evaluator> evaluators() {
    return evaluators;
  }

  public int epochs() {
    return epochs;
  }

  public int batchSize() {
    return batchSize;
  }

  public int validationBatchSize() {
    return validationBatchSize;
  }

  /** The device spec, if set; else {@code KILN_DEVICES} or {@code auto} applies. */
  public Optional<String> devices() {
    return Optional.ofNullable(devices);
  }

  public int workers() {
    return workers;
  }

  public int prefetch() {
    return prefetch;
  }

  public int microBatches() {
    return microBatches;
  }

  public long seed() {
    return seed;
  }

  public Optional<String> runName() {
    return Optional.ofNullable(runName);
  }

  public Optional<Path> runDirectory() {
    return Optional.ofNullable(runDirectory);
  }

  public List<ExperimentTracker> trackers() {
    return trackers;
  }

  /** Tracker names to activate, if set; else {@code KILN_TRACKERS} or {@code console,jsonl}. */
  public Optional<List<String>> trackerNames() {
    return Optional.ofNullable(trackerNames);
  }

  public Map<String, String> trackerSettings() {
    return trackerSettings;
  }

  public boolean failOnTrackerError() {
    return failOnTrackerError;
  }

  public Duration trackerTimeout() {
    return trackerTimeout;
  }

  public int logEverySteps() {
    return logEverySteps;
  }

  public NonFiniteLoss nonFiniteLoss() {
    return nonFiniteLoss;
  }

  public double gradientClipNorm() {
    return gradientClipNorm;
  }

  public String validationPrefix() {
    return validationPrefix;
  }

  public Progress progress() {
    return progress;
  }

  public int histogramEveryEpochs() {
    return histogramEveryEpochs;
  }

  public CheckpointPolicy checkpoints() {
    return checkpoints;
  }

  public Resume resume() {
    return resume;
  }

  public Optional<Instant> deadline() {
    return Optional.ofNullable(deadline);
  }

  /** The mirror root, if set: checkpoints and logs are copied to {@code <mirror>/<run name>}. */
  public Optional<Path> mirror() {
    return Optional.ofNullable(mirror);
  }

  public Duration mirrorTimeout() {
    return mirrorTimeout;
  }

  public boolean handleSignals() {
    return handleSignals;
  }

  public boolean engineTuning() {
    return engineTuning;
  }

  public Clock clock() {
    return clock;
  }

  public ThreadFactory threadFactory() {
    return threadFactory;
  }

  /** The config as plain values, for {@code config.json} and trackers. */
  public Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("epochs", epochs);
    m.put("batch_size", batchSize);
    m.put("validation_batch_size", validationBatchSize);
    m.put("seed", seed);
    m.put("workers", workers);
    m.put("prefetch", prefetch);
    m.put("micro_batches", microBatches);
    m.put("optimizer", optimizer.hyperParameters());
    m.put("lr", optimizer.learningRate());
    m.put("schedule", schedule.describe());
    m.put("schedule_interval", scheduleInterval.name().toLowerCase(java.util.Locale.ROOT));
    m.put("loss", loss.getName());
    List<String> evaluatorNames = new ArrayList<>();
    for (Evaluator e : evaluators) {
      evaluatorNames.add(e.getName());
    }
    m.put("evaluators", evaluatorNames);
    m.put("gradient_clip_norm", gradientClipNorm);
    m.put("non_finite_loss", nonFiniteLoss.name().toLowerCase(java.util.Locale.ROOT));
    m.put("checkpoints", checkpoints.describe());
    return m;
  }

  /** Builds a {@link TrainerConfig}. Defaults are given on each setter. */
  public static final class Builder {
    private final Loss loss;
    private final Optimizer optimizer;
    private LrSchedule schedule = LrSchedules.constant();
    private ScheduleInterval scheduleInterval = ScheduleInterval.EPOCH;
    private final List<Evaluator> evaluators = new ArrayList<>();
    private boolean evaluatorsSet;
    private int epochs = 1;
    private int batchSize = 64;
    private int validationBatchSize;
    private String devices;
    private int workers = 1;
    private int prefetch = 4;
    private int microBatches = 1;
    private long seed;
    private String runName;
    private Path runDirectory;
    private final List<ExperimentTracker> trackers = new ArrayList<>();
    private List<String> trackerNames;
    private final Map<String, String> trackerSettings = new LinkedHashMap<>();
    private boolean failOnTrackerError;
    private Duration trackerTimeout = Duration.ofSeconds(30);
    private int logEverySteps;
    private NonFiniteLoss nonFiniteLoss = NonFiniteLoss.FAIL;
    private double gradientClipNorm;
    private String validationPrefix = "val";
    private Progress progress = Progress.AUTO;
    private int histogramEveryEpochs;
    private CheckpointPolicy checkpoints = CheckpointPolicy.builder().build();
    private Resume resume = Resume.never();
    private Instant deadline;
    private Path mirror;
    private Duration mirrorTimeout = Duration.ofMinutes(5);
    private boolean handleSignals = true;
    private boolean engineTuning = true;
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory;

    private Builder(Loss loss, Optimizer optimizer) {
      this.loss = Objects.requireNonNull(loss, "loss");
      this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
      evaluators.add(new Accuracy());
    }

    private Builder(TrainerConfig c) {
      loss = c.loss;
      optimizer = c.optimizer;
      schedule = c.schedule;
      scheduleInterval = c.scheduleInterval;
      evaluators.addAll(c.evaluators);
      evaluatorsSet = true;
      epochs = c.epochs;
      batchSize = c.batchSize;
      validationBatchSize = c.validationBatchSize;
      devices = c.devices;
      workers = c.workers;
      prefetch = c.prefetch;
      microBatches = c.microBatches;
      seed = c.seed;
      runName = c.runName;
      runDirectory = c.runDirectory;
      trackers.addAll(c.trackers);
      trackerNames = c.trackerNames;
      trackerSettings.putAll(c.trackerSettings);
      failOnTrackerError = c.failOnTrackerError;
      trackerTimeout = c.trackerTimeout;
      logEverySteps = c.logEverySteps;
      nonFiniteLoss = c.nonFiniteLoss;
      gradientClipNorm = c.gradientClipNorm;
      validationPrefix = c.validationPrefix;
      progress = c.progress;
      histogramEveryEpochs = c.histogramEveryEpochs;
      checkpoints = c.checkpoints;
      resume = c.resume;
      deadline = c.deadline;
      mirror = c.mirror;
      mirrorTimeout = c.mirrorTimeout;
      handleSignals = c.handleSignals;
      engineTuning = c.engineTuning;
      clock = c.clock;
      threadFactory = c.threadFactory;
    }

    /** The learning-rate schedule. Default: constant. */
    public Builder schedule(LrSchedule schedule) {
      this.schedule = Objects.requireNonNull(schedule, "schedule");
      return this;
    }

    /** When the schedule advances. Default: {@link ScheduleInterval#EPOCH}. */
    public Builder scheduleInterval(ScheduleInterval interval) {
      this.scheduleInterval = Objects.requireNonNull(interval, "scheduleInterval");
      return this;
    }

    /**
     * Validation metrics, reported as {@code <validationPrefix>_<evaluator name in lower case>}.
     * Default: DJL's {@code Accuracy} (name {@code accuracy}). Replaces the default on first call.
     */
    public Builder evaluator(Evaluator evaluator) {
      if (!evaluatorsSet) {
        evaluators.clear();
        evaluatorsSet = true;
      }
      evaluators.add(Objects.requireNonNull(evaluator, "evaluator"));
      return this;
    }

    /** Number of epochs to train, counted from the start of the run (not of this process). */
    public Builder epochs(int epochs) {
      this.epochs = epochs;
      return this;
    }

    /** Training batch size, split across devices. Default 64. */
    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    /** Validation batch size. Default: the training batch size. */
    public Builder validationBatchSize(int validationBatchSize) {
      this.validationBatchSize = validationBatchSize;
      this.validationBatchSizeSet = true;
      return this;
    }

    private boolean validationBatchSizeSet;

    /**
     * Devices: {@code auto} (every visible CUDA GPU, else the CPU), {@code cpu}, {@code gpu(i)}, a
     * list such as {@code gpu(0),gpu(2)}, or {@code gpu:n} for the first n GPUs. Default: the
     * system property or environment variable {@code KILN_DEVICES}, else {@code auto}.
     */
    public Builder devices(String devices) {
      this.devices = Objects.requireNonNull(devices, "devices");
      return this;
    }

    /**
     * Background threads preparing batches (PyTorch's {@code num_workers}). 0 loads on the training
     * thread. Default 1.
     */
    public Builder workers(int workers) {
      this.workers = workers;
      return this;
    }

    /** Batches prepared ahead of the training thread. Default 4. */
    public Builder prefetch(int prefetch) {
      this.prefetch = prefetch;
      return this;
    }

    /**
     * Splits each device's share of a batch into this many micro-batches, run one after another
     * with their gradients summed before the single optimizer update (gradient accumulation): the
     * same update as the whole batch, in less device memory. Default 1.
     */
    public Builder microBatches(int microBatches) {
      this.microBatches = microBatches;
      return this;
    }

    /** Seed for initialization, data order and dropout. Default 0. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Run name. Default: {@code run-<yyyyMMdd-HHmmss>}. */
    public Builder runName(String runName) {
      this.runName = Objects.requireNonNull(runName, "runName");
      return this;
    }

    /** Run directory. Default: {@code runs/<run name>}. */
    public Builder runDirectory(Path runDirectory) {
      this.runDirectory = Objects.requireNonNull(runDirectory, "runDirectory");
      return this;
    }

    /** Adds a tracker instance, in addition to those activated by name. */
    public Builder tracker(ExperimentTracker tracker) {
      trackers.add(Objects.requireNonNull(tracker, "tracker"));
      return this;
    }

    /**
     * Names of trackers to activate through {@code ExperimentTrackerProvider}s, e.g. {@code
     * console}, {@code jsonl}, {@code tensorboard}, {@code wandb}. Default: the system property or
     * environment variable {@code KILN_TRACKERS} (comma-separated), else {@code console,jsonl}. An
     * empty list activates none.
     */
    public Builder trackerNames(List<String> names) {
      this.trackerNames = List.copyOf(names);
      return this;
    }

    /** A setting handed to tracker providers, overriding environment and system properties. */
    public Builder trackerSetting(String name, String value) {
      trackerSettings.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value));
      return this;
    }

    /** Whether a tracker that fails to start fails the run. Default false: it is dropped. */
    public Builder failOnTrackerError(boolean fail) {
      this.failOnTrackerError = fail;
      return this;
    }

    /** How long run start and run end may wait for trackers. Default 30 s. */
    public Builder trackerTimeout(Duration timeout) {
      this.trackerTimeout = Objects.requireNonNull(timeout, "trackerTimeout");
      return this;
    }

    /** Also emit step metrics every n steps; 0 turns them off. Default 0. */
    public Builder logEverySteps(int steps) {
      this.logEverySteps = steps;
      return this;
    }

    /** What a NaN or infinite loss does. Default {@link NonFiniteLoss#FAIL}. */
    public Builder nonFiniteLoss(NonFiniteLoss policy) {
      this.nonFiniteLoss = Objects.requireNonNull(policy, "nonFiniteLoss");
      return this;
    }

    /** Clip gradients to this global L2 norm; 0 turns clipping off. Default 0. */
    public Builder gradientClipNorm(double maxNorm) {
      this.gradientClipNorm = maxNorm;
      return this;
    }

    /**
     * Prefix of validation metric names, e.g. {@code test} gives {@code test_loss}. Default val.
     */
    public Builder validationPrefix(String prefix) {
      this.validationPrefix = Objects.requireNonNull(prefix, "validationPrefix");
      return this;
    }

    /** Progress bar. Default {@link Progress#AUTO}. */
    public Builder progress(Progress progress) {
      this.progress = Objects.requireNonNull(progress, "progress");
      return this;
    }

    /** Send parameter and gradient histograms to trackers every n epochs; 0 = never (default). */
    public Builder histogramEveryEpochs(int epochs) {
      this.histogramEveryEpochs = epochs;
      return this;
    }

    /** When to write checkpoints and what to keep. Default: every epoch, keep the last 3. */
    public Builder checkpoints(CheckpointPolicy policy) {
      this.checkpoints = Objects.requireNonNull(policy, "checkpoints");
      return this;
    }

    /** Whether and from where to resume. Default {@link Resume#never()}. */
    public Builder resume(Resume resume) {
      this.resume = Objects.requireNonNull(resume, "resume");
      return this;
    }

    /**
     * The machine goes away at this instant (a rental's end, a notebook's limit): Kiln writes a
     * final checkpoint early enough, using the measured save time, and stops. Default: none.
     */
    public Builder deadline(Instant deadline) {
      this.deadline = Objects.requireNonNull(deadline, "deadline");
      return this;
    }

    /**
     * Durable storage that outlives this machine (a mounted Google Drive, a data disk): after each
     * checkpoint commits locally, it and the run's logs are copied to {@code <mirror>/<run name>}
     * in the background, verified by checksum and committed atomically. Training never waits for
     * the mirror; resume takes the newest valid checkpoint of the local run directory and the
     * mirror, so a fresh machine with only the mirror continues the run. Default: none.
     */
    public Builder mirror(Path mirror) {
      this.mirror = Objects.requireNonNull(mirror, "mirror");
      return this;
    }

    /** How long the end of {@code fit} waits for the mirror to catch up. Default 5 minutes. */
    public Builder mirrorTimeout(Duration timeout) {
      this.mirrorTimeout = Objects.requireNonNull(timeout, "mirrorTimeout");
      return this;
    }

    /**
     * Whether SIGTERM and SIGINT finish the current step, write a checkpoint and end the run as
     * interrupted. Default true.
     */
    public Builder handleSignals(boolean handle) {
      this.handleSignals = handle;
      return this;
    }

    /**
     * Whether Kiln applies the measured process settings (glibc allocator thresholds that remove
     * page faults; see {@code bench/README.md}). They are applied once per process, when the first
     * config that wants them is built — build the config before creating the model so they precede
     * the engine's loading — or at the latest when {@code fit} starts. {@code
     * KILN_MALLOC_TUNING=false} in the environment turns them off. Default true.
     */
    public Builder engineTuning(boolean tune) {
      this.engineTuning = tune;
      return this;
    }

    /** Clock for timestamps and timing. Default: the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Thread factory for data workers and tracker threads. Default: daemon threads named kiln-*.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    /**
     * Builds the config.
     *
     * @throws IllegalArgumentException naming the first field whose value is out of range
     */
    public TrainerConfig build() {
      check(epochs >= 1, "epochs must be >= 1: " + epochs);
      check(batchSize >= 1, "batchSize must be >= 1: " + batchSize);
      check(
          !validationBatchSizeSet || validationBatchSize >= 1,
          "validationBatchSize must be >= 1: " + validationBatchSize);
      check(workers >= 0, "workers must be >= 0: " + workers);
      check(prefetch >= 1, "prefetch must be >= 1: " + prefetch);
      check(microBatches >= 1, "microBatches must be >= 1: " + microBatches);
      check(logEverySteps >= 0, "logEverySteps must be >= 0: " + logEverySteps);
      check(
          gradientClipNorm >= 0 && Double.isFinite(gradientClipNorm),
          "gradientClipNorm must be finite and >= 0: " + gradientClipNorm);
      check(
          histogramEveryEpochs >= 0, "histogramEveryEpochs must be >= 0: " + histogramEveryEpochs);
      check(!trackerTimeout.isNegative(), "trackerTimeout must not be negative: " + trackerTimeout);
      check(!mirrorTimeout.isNegative(), "mirrorTimeout must not be negative: " + mirrorTimeout);
      check(
          validationPrefix.matches("[A-Za-z0-9_]+"),
          "validationPrefix must be letters, digits or _: '" + validationPrefix + "'");
      if (runName != null) {
        check(
            runName.matches("[A-Za-z0-9._-]+") && !runName.startsWith("."),
            "runName must be letters, digits, '.', '_' or '-' and not start with '.': '"
                + runName
                + "'");
      }
      if (devices != null) {
        dev.kiln.internal.DeviceSpec.parse(devices); // throws naming the field
      }
      if (engineTuning) {
        // As early as Kiln gets control: usually before the first Model loads the engine.
        dev.kiln.internal.EngineTuning.applyMallocTuning();
      }
      return new TrainerConfig(this);
    }

    private static void check(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
