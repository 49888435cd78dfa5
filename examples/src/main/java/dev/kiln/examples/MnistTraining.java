package dev.kiln.examples;

import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.loss.Loss;
import dev.kiln.CheckpointPolicy;
import dev.kiln.FitResult;
import dev.kiln.Resume;
import dev.kiln.Trainer;
import dev.kiln.TrainerConfig;
import dev.kiln.TrainingException;
import dev.kiln.data.DatasetStaging;
import dev.kiln.data.MnistDataset;
import dev.kiln.optim.Adadelta;
import dev.kiln.optim.LrSchedules;
import dev.kiln.tracking.ExperimentTrackerProvider;
import dev.kiln.tracking.RunEnd;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeSet;

/**
 * The course notes' MNIST training program on Kiln: the {@link MnistNet} CNN, Adadelta (lr 1.0)
 * with StepLR (gamma 0.7 per epoch), batch 64, test batch 1000, 14 epochs, seed 1, metrics {@code
 * test_loss}, {@code test_acc} and {@code time_taken} per epoch, a checkpoint after each epoch, and
 * {@code --resume} to continue after a preemption. Run {@code java -jar kiln-examples.jar --help}.
 *
 * <p>Exit status: 0 when the run finished, and also when SIGTERM or SIGINT stopped it after a
 * checkpoint (it prints how to resume; a supervisor that sent the signal sees a clean stop); 1 when
 * training failed; 2 for a bad command line, missing data or a run directory that cannot be used.
 */
public final class MnistTraining {

  /** Exit status of a finished or cleanly interrupted run. */
  public static final int EXIT_OK = 0;

  /** Exit status when training failed. */
  public static final int EXIT_FAILURE = 1;

  /** Exit status for a bad command line, data location or run directory. */
  public static final int EXIT_USAGE = 2;

  private static final String PROGRAM = "kiln-examples";

  private MnistTraining() {}

  public static void main(String[] args) {
    quietLibraryLogs(List.of(args).contains("--verbose") || List.of(args).contains("-v"));
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Keeps stderr for what matters: DJL's start-up chatter and its CUDA probe warning on machines
   * without a GPU are hidden unless {@code --verbose}, which also turns on Kiln's debug log. A
   * {@code -Dorg.slf4j.simpleLogger...} given on the command line wins.
   */
  private static void quietLibraryLogs(boolean verbose) {
    String prefix = "org.slf4j.simpleLogger.";
    if (verbose) {
      System.getProperties().putIfAbsent(prefix + "log.dev.kiln", "debug");
    } else {
      System.getProperties().putIfAbsent(prefix + "log.ai.djl", "warn");
      System.getProperties().putIfAbsent(prefix + "log.ai.djl.util.cuda.CudaUtils", "error");
    }
  }

  /**
   * Runs the program as {@link #main} does, printing to {@code out} and {@code err}, and returns
   * the exit status instead of exiting. (Kiln's progress bar and console tracker print to {@code
   * System.out}.)
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return run(args, out, err, Environment.system());
  }

  static int run(String[] args, PrintStream out, PrintStream err, Environment environment) {
    boolean verbose = List.of(args).contains("--verbose") || List.of(args).contains("-v");
    try {
      TrainingOptions options = TrainingOptions.parse(args);
      if (options.help()) {
        out.print(TrainingOptions.usage());
        out.flush();
        return EXIT_OK;
      }
      checkTrackers(options.trackers());
      DataLocator locator =
          new DataLocator(
              environment.systemDataDirectory(),
              environment.cacheDirectory(),
              FashionMnistDownload.builder()
                  .mirrors(environment.mirrors())
                  .progress(out, System.console() != null)
                  .build());
      Path data =
          options.dataArchive().isPresent()
              ? staged(options, environment, out)
              : locator.locate(
                  options.data(),
                  Optional.ofNullable(
                      environment.variables().get(DataLocator.ENVIRONMENT_VARIABLE)));
      FitResult result = train(options, data);
      report(result, args, out);
      return EXIT_OK;
    } catch (UsageException | IllegalArgumentException e) {
      return fail(err, e, EXIT_USAGE, verbose);
    } catch (TrainingException | IOException | UncheckedIOException e) {
      return fail(err, e, EXIT_FAILURE, verbose);
    } catch (RuntimeException e) {
      return fail(err, e, EXIT_FAILURE, verbose);
    }
  }

  /**
   * Trains {@link MnistNet} on the data in {@code dataDirectory} as {@code options} say.
   *
   * @throws IOException if the data cannot be read
   * @throws IllegalArgumentException for settings Kiln refuses before training
   * @throws TrainingException when training fails
   */
  public static FitResult train(TrainingOptions options, Path dataDirectory) throws IOException {
    MnistDataset.Builder trainData = MnistDataset.builder(dataDirectory, MnistDataset.Split.TRAIN);
    if (options.limit() > 0) {
      trainData.limit(options.limit());
    }
    MnistDataset.Builder testData = MnistDataset.builder(dataDirectory, MnistDataset.Split.TEST);
    if (options.testLimit() > 0) {
      testData.limit(options.testLimit());
    }
    MnistDataset train = trainData.build();
    MnistDataset test = testData.build();
    return Trainer.fit(MnistNet.newBlock(), train, test, config(options));
  }

  /** The trainer config {@code options} stand for. */
  public static TrainerConfig config(TrainingOptions options) {
    TrainerConfig.Builder config =
        TrainerConfig.builder(
                Loss.softmaxCrossEntropyLoss(),
                Adadelta.builder().learningRate(options.learningRate()).build())
            .schedule(LrSchedules.step(1, options.gamma()))
            .evaluator(new Accuracy("acc", 1))
            .validationPrefix("test")
            .epochs(options.epochs())
            .batchSize(options.batchSize())
            .validationBatchSize(options.testBatchSize())
            .workers(options.workers())
            .seed(options.seed())
            .runDirectory(options.runDirectory())
            .trackerNames(options.trackers())
            .checkpoints(
                CheckpointPolicy.builder()
                    .everyEpochs(options.checkpointEveryEpochs())
                    .everySteps(options.checkpointEverySteps())
                    .build())
            .resume(options.resume() ? Resume.latest() : Resume.never());
    options.device().ifPresent(config::devices);
    options.mirror().ifPresent(config::mirror);
    return config.build();
  }

  /**
   * Unpacks {@code --data-archive} once to local disk ({@code --data}, else the cache) and returns
   * the folder holding the IDX files: the archive's root or its single top-level folder.
   */
  static Path staged(TrainingOptions options, Environment environment, PrintStream out)
      throws IOException {
    Path archive = options.dataArchive().orElseThrow();
    String name =
        archive.getFileName().toString().replaceFirst("(\\.tar\\.gz|\\.tgz|\\.tar|\\.zip)$", "");
    Path target =
        options
            .data()
            .orElse(environment.cacheDirectory().resolveSibling("datasets").resolve(name));
    DatasetStaging.Staged staged =
        DatasetStaging.builder(archive, target).progress(out).build().stage();
    Path root = staged.directory();
    try (var entries = java.nio.file.Files.list(root)) {
      List<Path> dirs = entries.filter(java.nio.file.Files::isDirectory).toList();
      boolean filesAtRoot;
      try (var files = java.nio.file.Files.list(root)) {
        filesAtRoot = files.anyMatch(p -> p.getFileName().toString().contains("-idx"));
      }
      return !filesAtRoot && dirs.size() == 1 ? dirs.get(0) : root;
    }
  }

  /** Refuses unknown tracker names before anything is written. */
  static void checkTrackers(List<String> names) throws UsageException {
    TreeSet<String> available = new TreeSet<>();
    ServiceLoader<ExperimentTrackerProvider> loader =
        ServiceLoader.load(
            ExperimentTrackerProvider.class, Thread.currentThread().getContextClassLoader());
    for (var it = loader.iterator(); ; ) {
      try {
        if (!it.hasNext()) {
          break;
        }
        available.add(it.next().name().toLowerCase(Locale.ROOT));
      } catch (ServiceConfigurationError e) {
        // Kiln reports a provider that fails to load when the run starts.
      }
    }
    for (String name : names) {
      if (!available.contains(name)) {
        throw new UsageException(
            "unknown tracker '"
                + name
                + "' in --trackers: the trackers on the class path are "
                + String.join(", ", available)
                + " — fix the name, or put the jar that provides it on the class path");
      }
    }
  }

  private static void report(FitResult result, String[] args, PrintStream out) {
    Path metrics = result.runDirectory().resolve("metrics.jsonl");
    if (result.outcome() == RunEnd.Outcome.INTERRUPTED) {
      out.println(
          "Stopped at step "
              + result.step()
              + "; checkpoint "
              + result.lastCheckpoint().map(Path::toString).orElse("(none: checkpoints are off)"));
      out.println("Resume with: java -jar kiln-examples.jar " + resumeArguments(args));
    } else {
      String last =
          result
              .last()
              .map(
                  e ->
                      String.format(
                          Locale.ROOT,
                          " test_loss %.4f, test_acc %.4f,",
                          e.metric("test_loss"),
                          e.metric("test_acc")))
              .orElse("");
      out.println(
          "Finished after step "
              + result.step()
              + ":"
              + last
              + " run directory "
              + result.runDirectory());
      if (metrics.toFile().exists()) {
        out.println("Metrics per epoch: " + metrics);
      }
    }
    out.flush();
  }

  /** The same arguments plus {@code --resume}, quoted for a POSIX shell. */
  static String resumeArguments(String[] args) {
    List<String> words = new ArrayList<>(List.of(args));
    if (!words.contains("--resume")) {
      words.add("--resume");
    }
    List<String> quoted = new ArrayList<>();
    for (String w : words) {
      quoted.add(w.matches("[A-Za-z0-9_./=:,+-]+") ? w : "'" + w.replace("'", "'\\''") + "'");
    }
    return String.join(" ", quoted);
  }

  private static int fail(PrintStream err, Throwable e, int status, boolean verbose) {
    String message = e.getMessage();
    if (message == null || message.isBlank()) {
      message = e.toString();
    } else if (!(e instanceof UsageException
        || e instanceof IllegalArgumentException
        || e instanceof TrainingException
        || e instanceof IOException
        || e instanceof UncheckedIOException)) {
      message = e.getClass().getName() + ": " + message;
    }
    err.println(PROGRAM + ": error: " + message.replaceAll("\\s*\\R\\s*", " ").trim());
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return status;
  }

  /** What the program reads from its surroundings; replaced in tests. */
  record Environment(
      Map<String, String> variables,
      Path systemDataDirectory,
      Path cacheDirectory,
      List<URI> mirrors) {

    static Environment system() {
      Map<String, String> env = System.getenv();
      return new Environment(
          env,
          DataLocator.SYSTEM_DIRECTORY,
          DataLocator.defaultCacheDirectory(env),
          FashionMnistDownload.MIRRORS);
    }
  }
}
