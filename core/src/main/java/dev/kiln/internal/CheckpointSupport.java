package dev.kiln.internal;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.kiln.CheckpointPolicy;
import dev.kiln.Resume;
import dev.kiln.TrainerConfig;
import dev.kiln.TrainingException;
import dev.kiln.checkpoint.Checkpoint;
import dev.kiln.checkpoint.CheckpointException;
import dev.kiln.checkpoint.CheckpointProblem;
import dev.kiln.checkpoint.CheckpointRequest;
import dev.kiln.checkpoint.CheckpointStore;
import dev.kiln.checkpoint.Retention;
import dev.kiln.checkpoint.TensorFile;
import dev.kiln.tracking.DeviceReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The loop's use of the checkpoint store: what a checkpoint holds, when to save, how to resume. */
final class CheckpointSupport implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CheckpointSupport.class);

  static final String MODEL_FILE = "model.ndlist";
  static final String OPTIMIZER_FILE = "optimizer.ndlist";
  static final String STATE_KEY = "kiln";

  private final TrainerConfig config;
  private final CheckpointPolicy policy;
  private final CheckpointStore store;
  private final DeviceReport devices;
  private volatile Path lastCommitted;
  private volatile Path resumedFrom; // the checkpoint this fit resumed from, if any
  private volatile long lastSaveNanos;
  private volatile double saveSeconds = 10; // until measured
  private volatile boolean measured;
  private long lastSavedStep = -1;
  private java.util.concurrent.ExecutorService background;
  private java.util.concurrent.Future<?> pending;

  private final Path runDirectory;
  private final CheckpointMirror mirror;

  CheckpointSupport(Path runDirectory, String runName, TrainerConfig config, DeviceReport devices) {
    this.runDirectory = runDirectory;
    this.config = config;
    this.policy = config.checkpoints();
    this.devices = devices;
    Retention.Builder retention = Retention.builder().keepLast(policy.keepLast());
    if (policy.keepBest() > 0) {
      retention.keepBest(
          policy.keepBest(),
          policy.bestMetric(),
          policy.bestHigher() ? Retention.Direction.MAX : Retention.Direction.MIN);
    }
    if (policy.keepEveryEpochs() > 0) {
      retention.keepEveryEpochs(policy.keepEveryEpochs());
    }
    Map<String, String> versions = new LinkedHashMap<>();
    versions.put("kiln", Versions.kiln());
    versions.put("djl", Engine.getDjlVersion());
    versions.put(
        "engine", Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion());
    this.store =
        CheckpointStore.builder(runDirectory.resolve("checkpoints"))
            .retention(retention.build())
            .clock(config.clock())
            .versions(versions)
            .verification(policy.verification())
            .build();
    lastSaveNanos = System.nanoTime();
    this.mirror =
        config.mirror().isPresent() && policy.enabled()
            ? new CheckpointMirror(
                runDirectory,
                config.mirror().get().resolve(runName).toAbsolutePath(),
                retention.build(),
                versions,
                config.clock(),
                TestHooks.mirrorCopier(),
                config.threadFactory() != null ? config.threadFactory() : Thread::new,
                policy.verification())
            : null;
  }

  /** What a resume restores, read from a verified checkpoint. */
  static final class Loaded {
    private final Checkpoint checkpoint;
    private final Map<String, Object> state;

    Loaded(Checkpoint checkpoint) {
      this.checkpoint = checkpoint;
      Object s = checkpoint.metadata().get(STATE_KEY);
      if (!(s instanceof Map<?, ?> m)) {
        throw new TrainingException(
            "Checkpoint "
                + checkpoint.directory()
                + " was not written by Kiln's trainer (no '"
                + STATE_KEY
                + "' metadata) — resume from a checkpoint written by Trainer.fit");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> typed = (Map<String, Object>) m;
      this.state = typed;
    }

    String name() {
      return checkpoint.name();
    }

    String runId() {
      return (String) state.get("run_id");
    }

    int epoch() {
      return ((Number) state.get("epoch")).intValue();
    }

    long step() {
      return ((Number) state.get("step")).longValue();
    }

    long batchInEpoch() {
      return ((Number) state.get("batch_in_epoch")).longValue();
    }

    Map<String, Double> best() {
      return doubles(state.get("best"));
    }

    Map<String, Double> epochAccumulators() {
      return doubles(state.get("epoch_accumulators"));
    }

    private static Map<String, Double> doubles(Object o) {
      Map<String, Double> m = new LinkedHashMap<>();
      if (o instanceof Map<?, ?> map) {
        map.forEach((k, v) -> m.put((String) k, ((Number) v).doubleValue()));
      }
      return m;
    }

    void restoreInto(TrainingLoop loop) {
      TrainerConfig c = loop.config();
      long batchInEpoch = batchInEpoch();
      if (batchInEpoch > 0) {
        long size = ((Number) state.get("train_size")).longValue();
        int batch = ((Number) state.get("batch_size")).intValue();
        if (size != loop.trainSize() || batch != c.batchSize()) {
          throw new TrainingException(
              "Checkpoint "
                  + checkpoint.name()
                  + " was taken mid-epoch with "
                  + size
                  + " training samples in batches of "
                  + batch
                  + ", but this run has "
                  + loop.trainSize()
                  + " in batches of "
                  + c.batchSize()
                  + " — resume with the same data and batch size, or from an epoch-end checkpoint");
        }
      }
      Object seed = state.get("seed");
      if (seed instanceof Number n && n.longValue() != c.seed()) {
        log.warn(
            "Resuming with seed {} but the checkpoint was written with seed {}: data order and"
                + " dropout will differ from an uninterrupted run",
            c.seed(),
            n.longValue());
      }
      Map<String, NDArray> params = loop.allParameterArrays();
      NDManager tmp = params.values().iterator().next().getManager().newSubManager();
      try {
        // Straight into the parameters: names and shapes are checked before any is written.
        TensorFile.readInto(checkpoint.file(MODEL_FILE), params);
        loop.syncReplicas();
        Map<String, NDArray> optTensors = TensorFile.read(checkpoint.file(OPTIMIZER_FILE), tmp);
        @SuppressWarnings("unchecked")
        Map<String, Object> scalars =
            (Map<String, Object>) state.getOrDefault("optimizer_scalars", Map.of());
        if (!TestHooks.skipOptimizerStateOnResume()) {
          loop.optimizerState().load(optTensors, scalars, loop.weights());
        }
      } catch (IOException e) {
        throw new TrainingException(
            "Cannot read checkpoint " + checkpoint.directory() + ": " + e.getMessage(), e);
      } catch (IllegalArgumentException e) {
        throw new TrainingException(
            "Checkpoint "
                + checkpoint.name()
                + " does not fit this model or optimizer: "
                + e.getMessage()
                + " — resume with the model and optimizer that wrote it, or start a new run",
            e);
      } finally {
        tmp.close();
      }
    }
  }

  /** Finds where to resume, or none for a new run; refuses to mix a new run into an old one. */
  Optional<Loaded> findResumePoint(Resume resume) {
    Optional<Loaded> found = locateResumePoint(resume);
    found.ifPresent(loaded -> resumedFrom = loaded.checkpoint.directory());
    return found;
  }

  private Optional<Loaded> locateResumePoint(Resume resume) {
    switch (resume.mode()) {
      case NEVER -> {
        List<String> existing = new java.util.ArrayList<>(checkpointFolders(store.directory()));
        if (mirror != null) {
          existing.addAll(checkpointFolders(mirror.store().directory()));
        }
        if (!existing.isEmpty()) {
          throw new IllegalArgumentException(
              "The run directory "
                  + store.directory().getParent()
                  + " already holds checkpoints of an earlier run ("
                  + existing.get(existing.size() - 1)
                  + (mirror != null ? ", counting the mirror" : "")
                  + ") — resume it (Resume.latest(), --resume) or choose another run name");
        }
        return Optional.empty();
      }
      case LATEST -> {
        // Folders, not store.list(): a checkpoint whose manifest is unreadable is still a
        // checkpoint
        // of this run, and must not let a resume silently start a new run over it.
        List<String> existing = checkpointFolders(store.directory());
        Optional<Checkpoint> latest;
        try {
          latest = store.latestValid();
        } catch (CheckpointException e) {
          throw new TrainingException(e.getMessage(), e);
        }
        if (mirror != null) {
          latest = newestOfLocalAndMirror(latest);
          existing = new java.util.ArrayList<>(existing);
          existing.addAll(checkpointFolders(mirror.store().directory()));
        }
        if (latest.isEmpty() && !existing.isEmpty()) {
          StringBuilder why = new StringBuilder();
          for (CheckpointProblem p : store.problems()) {
            why.append("; ").append(p.message());
          }
          throw new TrainingException(
              "No valid checkpoint in "
                  + store.directory()
                  + (mirror != null ? " or the mirror" : "")
                  + " ("
                  + existing.size()
                  + " damaged"
                  + why
                  + ") — the damaged ones are left as they are; start a new run under another"
                  + " run name, or restore a checkpoint from a copy");
        }
        if (!store.problems().isEmpty()) {
          log.warn(
              "Skipped damaged checkpoints while looking for one to resume: {}", store.problems());
        }
        return latest.map(Loaded::new);
      }
      case FROM -> {
        try {
          return Optional.of(new Loaded(store.verify(resume.checkpoint().orElseThrow())));
        } catch (CheckpointException e) {
          throw new TrainingException(
              "Cannot resume from " + resume.checkpoint().get() + ": " + e.getMessage(), e);
        }
      }
      default -> throw new AssertionError(resume);
    }
  }

  /** Names of committed-looking checkpoint folders ({@code ckpt-*}), valid or not, sorted. */
  static List<String> checkpointFolders(Path directory) {
    if (!java.nio.file.Files.isDirectory(directory)) {
      return List.of();
    }
    try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(directory)) {
      return s.filter(java.nio.file.Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .filter(n -> n.startsWith("ckpt-"))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("Cannot list " + directory + ": " + e.getMessage(), e);
    }
  }

  /**
   * Takes the mirror's newest valid checkpoint when it is newer than the local one (a fresh
   * machine, a lost local disk): copies it, verified, into the local store and brings back the log
   * files the local run directory lacks, so trackers continue their runs.
   */
  private Optional<Checkpoint> newestOfLocalAndMirror(Optional<Checkpoint> local) {
    Optional<Checkpoint> remote;
    try {
      remote = mirror.store().latestValid();
    } catch (CheckpointException e) {
      log.warn("Cannot read the mirror's checkpoints: {}", e.getMessage());
      return local;
    }
    if (remote.isEmpty() || (local.isPresent() && local.get().step() >= remote.get().step())) {
      return local;
    }
    log.info(
        "The mirror holds a newer checkpoint ({}) than the local run directory ({}): resuming from"
            + " the mirror",
        remote.get().name(),
        local.map(Checkpoint::name).orElse("none"));
    try {
      Path logs = remote.get().directory().getParent().getParent().resolve(CheckpointMirror.LOGS);
      restoreMissingLogs(logs, runDirectory);
      return Optional.of(
          CheckpointMirror.copyCheckpoint(remote.get(), store, CheckpointMirror.Copier.standard()));
    } catch (IOException | CheckpointException e) {
      throw new TrainingException(
          "Cannot copy checkpoint "
              + remote.get().directory()
              + " from the mirror: "
              + e.getMessage()
              + " — check the mirror drive and free space on the local disk",
          e);
    }
  }

  private static void restoreMissingLogs(Path from, Path to) throws IOException {
    if (!java.nio.file.Files.isDirectory(from)) {
      return;
    }
    try (java.util.stream.Stream<Path> s = java.nio.file.Files.walk(from)) {
      for (Path f : s.filter(java.nio.file.Files::isRegularFile).toList()) {
        Path target = to.resolve(from.relativize(f).toString());
        if (!java.nio.file.Files.exists(target)) {
          java.nio.file.Files.createDirectories(target.getParent());
          java.nio.file.Files.copy(f, target);
        }
      }
    }
  }

  boolean dueMidEpoch(long step) {
    if (!policy.enabled()) {
      return false;
    }
    if (policy.everySteps() > 0 && step % policy.everySteps() == 0) {
      return true;
    }
    return intervalElapsed();
  }

  boolean dueAtEpochEnd(int epoch, long step) {
    if (!policy.enabled()) {
      return false;
    }
    return (policy.everyEpochs() > 0 && epoch % policy.everyEpochs() == 0)
        || epoch == config.epochs()
        || (policy.everySteps() > 0 && step % policy.everySteps() == 0)
        || intervalElapsed();
  }

  private boolean intervalElapsed() {
    return policy.interval().isPresent()
        && System.nanoTime() - lastSaveNanos >= policy.interval().get().toNanos();
  }

  /** Saves the loop's full state; a failure stops training with a clear error. */
  void save(TrainingLoop loop, Map<String, Double> metrics) {
    save(loop, metrics, false);
  }

  void save(TrainingLoop loop, Map<String, Double> metrics, boolean forceSync) {
    if (loop.step() == lastSavedStep && metrics.isEmpty()) {
      awaitPending();
      return;
    }
    Map<String, Object> state = new LinkedHashMap<>();
    state.put("run_id", loop.runId());
    state.put("run_name", loop.runName());
    state.put("epoch", loop.epoch());
    state.put("step", loop.step());
    state.put("batch_in_epoch", loop.batchInEpoch());
    state.put("seed", config.seed());
    state.put("train_size", loop.trainSize());
    state.put("batch_size", config.batchSize());
    state.put("best", new LinkedHashMap<>(loop.best()));
    state.put("epoch_accumulators", new LinkedHashMap<>(loop.epochAccumulators()));
    state.put("optimizer", config.optimizer().hyperParameters());
    state.put("optimizer_scalars", loop.optimizerState().saveScalars());
    state.put("schedule", config.schedule().describe());
    state.put("devices", devices.devices().stream().map(DeviceReport.Device::id).toList());
    Map<String, Double> finite = new LinkedHashMap<>();
    metrics.forEach(
        (k, v) -> {
          if (Double.isFinite(v)) {
            finite.put(k, v);
          }
        });
    CheckpointRequest request =
        CheckpointRequest.builder(loop.epoch(), loop.step())
            .metrics(finite)
            .metadata(STATE_KEY, state)
            .build();
    Map<String, NDArray> live = loop.allParameterArrays();
    NDManager tmp = live.values().iterator().next().getManager().newSubManager(ai.djl.Device.cpu());
    Map<String, NDArray> weights;
    Map<String, NDArray> opt;
    try {
      // Host copies: later steps cannot change what is being written.
      weights = hostCopies(live, tmp);
      opt = hostCopies(loop.optimizerState().saveTensors(tmp), tmp);
    } catch (RuntimeException e) {
      tmp.close();
      throw e;
    }
    int epoch = loop.epoch();
    long step = loop.step();
    lastSavedStep = step;
    Runnable job =
        () -> {
          try {
            long j0 = System.nanoTime();
            Checkpoint c =
                store.save(
                    request,
                    dir -> {
                      // The larger file first (Adam and Adadelta keep two arrays per weight):
                      // its SHA-256, the longest, then starts first and ends beside the other's.
                      TensorFile.write(dir.resolve(OPTIMIZER_FILE), opt);
                      TensorFile.write(dir.resolve(MODEL_FILE), weights);
                    });
            lastCommitted = c.directory();
            if (mirror != null) {
              mirror.submit(c);
            }
            double seconds = (System.nanoTime() - j0) / 1e9;
            saveSeconds = measured ? Math.max(seconds, 0.8 * saveSeconds + 0.2 * seconds) : seconds;
            measured = true;
            lastSaveNanos = System.nanoTime();
            log.info("Checkpoint {} committed in {} s", c.name(), String.format("%.2f", seconds));
          } catch (CheckpointException e) {
            throw new TrainingException(
                "Checkpoint at epoch "
                    + epoch
                    + ", step "
                    + step
                    + " failed: "
                    + e.getMessage()
                    + (lastCommitted != null
                        ? " (the last good checkpoint " + lastCommitted + " is intact)"
                        : resumedFrom != null
                            ? " (the checkpoint this run resumed from, "
                                + resumedFrom
                                + ", is intact)"
                            : ""),
                e);
          } finally {
            tmp.close();
          }
        };
    if (policy.async() && !forceSync) {
      awaitPending();
      if (background == null) {
        background =
            java.util.concurrent.Executors.newSingleThreadExecutor(
                r -> {
                  Thread t = new Thread(r, "kiln-checkpoint");
                  t.setDaemon(false); // a save in flight must finish even as the JVM exits
                  return t;
                });
      }
      pending = background.submit(job);
    } else {
      awaitPending();
      job.run();
    }
  }

  private static Map<String, NDArray> hostCopies(Map<String, NDArray> arrays, NDManager manager) {
    Map<String, NDArray> copies = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
      NDArray copy = e.getValue().toDevice(ai.djl.Device.cpu(), true);
      copy.attach(manager);
      copies.put(e.getKey(), copy);
    }
    return copies;
  }

  /** Waits for a background save; rethrows its failure. */
  void awaitPending() {
    java.util.concurrent.Future<?> p = pending;
    pending = null;
    if (p == null) {
      return;
    }
    try {
      p.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TrainingException("interrupted while waiting for a checkpoint to be written", e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new TrainingException("checkpoint failed: " + e.getCause(), e.getCause());
    }
  }

  /**
   * The final save of an interrupted run, whatever the policy says (unless checkpoints are off).
   */
  void saveFinal(TrainingLoop loop, String why) {
    if (!policy.enabled()) {
      log.warn("{}: checkpoints are off, so nothing is saved", why);
      return;
    }
    save(loop, Map.of(), true);
  }

  double estimatedSaveSeconds() {
    return policy.enabled() ? saveSeconds : 0;
  }

  Optional<Path> lastCommitted() {
    return Optional.ofNullable(lastCommitted);
  }

  /** Waits for a save in flight (rethrowing its failure) and stops the background thread. */
  @Override
  public void close() {
    try {
      awaitPending();
    } finally {
      if (background != null) {
        background.shutdown();
      }
      closeMirror();
    }
  }

  private void closeMirror() {
    if (mirror == null) {
      return;
    }
    try {
      if (!mirror.awaitIdle(config.mirrorTimeout())) {
        log.warn(
            "The mirror did not catch up within {} s; it holds {} — the local run directory has"
                + " newer checkpoints",
            config.mirrorTimeout().toSeconds(),
            mirror.lastMirrored().map(Checkpoint::name).orElse("no checkpoint yet"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      mirror.close();
    }
  }

  /** Mirror statistics for tests and reports: {mirrored, failures}, or empty without a mirror. */
  Optional<long[]> mirrorStats() {
    return mirror == null
        ? Optional.empty()
        : Optional.of(new long[] {mirror.mirrored(), mirror.failures()});
  }
}
