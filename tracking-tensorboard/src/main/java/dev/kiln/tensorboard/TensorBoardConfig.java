package dev.kiln.tensorboard;

import dev.kiln.tracking.TrackerContext;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable settings of a {@link TensorBoardTracker}.
 *
 * <pre>{@code
 * TensorBoardConfig config = TensorBoardConfig.builder()
 *     .logDirectory(Path.of("/content/drive/MyDrive/tb/mnist"))
 *     .histogramEveryEpochs(5)
 *     .build();
 * }</pre>
 *
 * <p>Defaults:
 *
 * <ul>
 *   <li>{@code logDirectory}: none, meaning {@code <run directory>/tensorboard}
 *   <li>{@code histogramEveryEpochs}: {@value #DEFAULT_HISTOGRAM_EVERY_EPOCHS}, i.e. every
 *       histogram record the trainer emits is written
 *   <li>{@code flushInterval}: {@link #DEFAULT_FLUSH_INTERVAL} (30 s)
 *   <li>{@code bufferSize}: {@value #DEFAULT_BUFFER_SIZE} bytes
 *   <li>{@code hparamsExperiment}: {@code false}
 * </ul>
 *
 * <p>{@link #fromSettings(TrackerContext)} reads the same values from Kiln's settings (environment,
 * system properties, trainer config).
 */
public final class TensorBoardConfig {
  /** The log directory's name inside the run directory when none is set: {@code tensorboard}. */
  public static final String DEFAULT_SUBDIRECTORY = "tensorboard";

  /** Write every histogram record received. */
  public static final int DEFAULT_HISTOGRAM_EVERY_EPOCHS = 1;

  /** 30 seconds. */
  public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofSeconds(30);

  /** 256 KiB. */
  public static final int DEFAULT_BUFFER_SIZE = 256 * 1024;

  /** Setting: a root directory; each run logs to {@code <root>/<run directory name>}. */
  public static final String SETTING_DIR = "KILN_TENSORBOARD_DIR";

  /** Setting: {@link Builder#histogramEveryEpochs(int)}, a positive integer. */
  public static final String SETTING_HISTOGRAM_EVERY = "KILN_TENSORBOARD_HISTOGRAM_EVERY";

  /** Setting: {@link Builder#flushInterval(Duration)} in seconds, e.g. {@code 10}. */
  public static final String SETTING_FLUSH_INTERVAL = "KILN_TENSORBOARD_FLUSH_INTERVAL";

  /** Setting: {@link Builder#hparamsExperiment(boolean)}, {@code true} or {@code false}. */
  public static final String SETTING_HPARAMS_EXPERIMENT = "KILN_TENSORBOARD_HPARAMS_EXPERIMENT";

  private final Path logDirectory;
  private final int histogramEveryEpochs;
  private final Duration flushInterval;
  private final int bufferSize;
  private final boolean hparamsExperiment;

  private TensorBoardConfig(Builder b) {
    this.logDirectory = b.logDirectory;
    this.histogramEveryEpochs = b.histogramEveryEpochs;
    this.flushInterval = b.flushInterval;
    this.bufferSize = b.bufferSize;
    this.hparamsExperiment = b.hparamsExperiment;
  }

  /** A builder holding the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** The defaults: logs in {@code <run directory>/tensorboard}. */
  public static TensorBoardConfig defaults() {
    return builder().build();
  }

  /**
   * Reads {@value #SETTING_DIR}, {@value #SETTING_HISTOGRAM_EVERY}, {@value
   * #SETTING_FLUSH_INTERVAL} and {@value #SETTING_HPARAMS_EXPERIMENT} from the context; absent
   * settings keep their defaults. With {@value #SETTING_DIR}{@code =/data/tb}, a run in {@code
   * runs/mnist-1} logs to {@code /data/tb/mnist-1}, so {@code tensorboard --logdir /data/tb} shows
   * every run.
   *
   * @throws IllegalArgumentException naming the setting when a value cannot be used
   */
  public static TensorBoardConfig fromSettings(TrackerContext context) {
    Builder b = builder();
    context
        .setting(SETTING_DIR)
        .ifPresent(
            root -> {
              try {
                Path name = context.runDirectory().toAbsolutePath().normalize().getFileName();
                Path rootPath = Path.of(root.trim());
                b.logDirectory(name == null ? rootPath : rootPath.resolve(name.toString()));
              } catch (InvalidPathException e) {
                throw new IllegalArgumentException(
                    SETTING_DIR + " (" + root + ") is not a valid path: " + e.getMessage(), e);
              }
            });
    context
        .setting(SETTING_HISTOGRAM_EVERY)
        .ifPresent(v -> b.histogramEveryEpochs(parsePositive(SETTING_HISTOGRAM_EVERY, v)));
    context
        .setting(SETTING_FLUSH_INTERVAL)
        .ifPresent(
            v -> b.flushInterval(Duration.ofSeconds(parsePositive(SETTING_FLUSH_INTERVAL, v))));
    context
        .setting(SETTING_HPARAMS_EXPERIMENT)
        .ifPresent(
            v -> {
              String t = v.trim().toLowerCase(java.util.Locale.ROOT);
              if (!t.equals("true") && !t.equals("false")) {
                throw new IllegalArgumentException(
                    SETTING_HPARAMS_EXPERIMENT + " (" + v + ") must be true or false");
              }
              b.hparamsExperiment(Boolean.parseBoolean(t));
            });
    return b.build();
  }

  private static int parsePositive(String name, String value) {
    try {
      int n = Integer.parseInt(value.trim());
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(name + " (" + value + ") must be a positive integer");
  }

  /** A builder starting from this config's values. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The configured log directory; empty means {@code <run directory>/tensorboard}. */
  public Optional<Path> logDirectory() {
    return Optional.ofNullable(logDirectory);
  }

  /** Where a run in {@code runDirectory} writes its event files. */
  public Path logDirectoryFor(Path runDirectory) {
    return logDirectory != null ? logDirectory : runDirectory.resolve(DEFAULT_SUBDIRECTORY);
  }

  /** Histograms are written at most once per this many completed epochs. */
  public int histogramEveryEpochs() {
    return histogramEveryEpochs;
  }

  /** Buffered events are also written and synced when this much time passed since the last. */
  public Duration flushInterval() {
    return flushInterval;
  }

  /** Bytes buffered in memory before they are written to the file (without a sync). */
  public int bufferSize() {
    return bufferSize;
  }

  /** Whether an {@code _hparams_/experiment} summary is written at run end. */
  public boolean hparamsExperiment() {
    return hparamsExperiment;
  }

  @Override
  public String toString() {
    return "TensorBoardConfig{logDirectory="
        + (logDirectory == null ? "<run directory>/" + DEFAULT_SUBDIRECTORY : logDirectory)
        + ", histogramEveryEpochs="
        + histogramEveryEpochs
        + ", flushInterval="
        + flushInterval
        + ", bufferSize="
        + bufferSize
        + ", hparamsExperiment="
        + hparamsExperiment
        + "}";
  }

  /** Builds a {@link TensorBoardConfig}; every setter checks its argument. */
  public static final class Builder {
    private Path logDirectory;
    private int histogramEveryEpochs = DEFAULT_HISTOGRAM_EVERY_EPOCHS;
    private Duration flushInterval = DEFAULT_FLUSH_INTERVAL;
    private int bufferSize = DEFAULT_BUFFER_SIZE;
    private boolean hparamsExperiment;

    private Builder() {}

    private Builder(TensorBoardConfig c) {
      this.logDirectory = c.logDirectory;
      this.histogramEveryEpochs = c.histogramEveryEpochs;
      this.flushInterval = c.flushInterval;
      this.bufferSize = c.bufferSize;
      this.hparamsExperiment = c.hparamsExperiment;
    }

    /**
     * The directory that receives this run's event files: the TensorBoard run is this directory. A
     * resumed run must use the same directory, so that the restart can hide what the lost process
     * wrote after the checkpoint. Default: {@code <run directory>/tensorboard}.
     */
    public Builder logDirectory(Path logDirectory) {
      this.logDirectory = Objects.requireNonNull(logDirectory, "logDirectory");
      return this;
    }

    /**
     * Writes a histogram record only when at least this many epochs completed since the last one
     * written (the first is always written). The trainer decides whether histograms are computed at
     * all; this only thins them out. Default {@value #DEFAULT_HISTOGRAM_EVERY_EPOCHS}.
     */
    public Builder histogramEveryEpochs(int histogramEveryEpochs) {
      if (histogramEveryEpochs <= 0) {
        throw new IllegalArgumentException(
            "histogramEveryEpochs (" + histogramEveryEpochs + ") must be positive");
      }
      this.histogramEveryEpochs = histogramEveryEpochs;
      return this;
    }

    /**
     * The longest time buffered step metrics wait before being written and synced, so that
     * TensorBoard stays live during long epochs. Besides this, Kiln flushes at every epoch end and
     * checkpoint. Checked when the tracker is called, without a thread. Default 30 s.
     */
    public Builder flushInterval(Duration flushInterval) {
      Objects.requireNonNull(flushInterval, "flushInterval");
      if (flushInterval.isNegative() || flushInterval.isZero()) {
        throw new IllegalArgumentException(
            "flushInterval (" + flushInterval + ") must be positive");
      }
      this.flushInterval = flushInterval;
      return this;
    }

    /**
     * Bytes of framed records held in memory before they are written to the file. Default {@value
     * #DEFAULT_BUFFER_SIZE}.
     */
    public Builder bufferSize(int bufferSize) {
      if (bufferSize < 1024) {
        throw new IllegalArgumentException("bufferSize (" + bufferSize + ") must be at least 1024");
      }
      this.bufferSize = bufferSize;
      return this;
    }

    /**
     * Also writes an {@code _hparams_/experiment} summary at run end that lists the run's
     * hyper-parameters and its epoch and summary metrics as the HParams table's columns. Off by
     * default: TensorBoard takes the first experiment it finds under {@code --logdir} as
     * authoritative for all runs, so runs with other config keys or metrics would lose columns.
     * Without it, TensorBoard derives the columns from all runs.
     */
    public Builder hparamsExperiment(boolean hparamsExperiment) {
      this.hparamsExperiment = hparamsExperiment;
      return this;
    }

    public TensorBoardConfig build() {
      return new TensorBoardConfig(this);
    }
  }
}
