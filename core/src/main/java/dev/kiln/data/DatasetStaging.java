package dev.kiln.data;

import dev.kiln.data.internal.StagingFileOps;
import dev.kiln.data.internal.StagingRun;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * Copies a dataset archive from slow storage (a mounted cloud drive) onto fast local disk once per
 * machine, and reuses that copy until the archive changes or the copy is damaged.
 *
 * <pre>{@code
 * DatasetStaging.Staged staged = DatasetStaging.builder(
 *         Path.of("/content/drive/MyDrive/datasets/fashion-mnist.tar.gz"),
 *         Path.of("/content/data/fashion-mnist"))
 *     .sha256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") // optional
 *     .build()
 *     .stage();
 * MnistDataset train = MnistDataset.builder(staged.directory(), MnistDataset.Split.TRAIN).build();
 * }</pre>
 *
 * <p><b>Formats.</b> Zip, tar and gzip-compressed tar, recognised from the file's first bytes (the
 * name does not matter). Only regular files and directories are extracted; file permissions and
 * times are not restored.
 *
 * <p><b>Safety.</b> An entry whose path is absolute or climbs out of the target ({@code ../}), and
 * any symbolic or hard link, fails the whole staging with an error that names the entry; nothing is
 * ever written outside the target. Corrupt and truncated archives (bad tar checksums, zip CRCs, a
 * gzip stream cut short, a zip whose central directory is missing) fail the same way.
 *
 * <p><b>Atomicity.</b> The archive is extracted into a hidden sibling directory, {@code
 * .<target-name>.partial-<random>}; each file is flushed to the device, a completion marker {@code
 * .kiln-staged.json} listing every file and its size is written last, and only then is the
 * directory renamed to the target. A session that dies mid-way leaves only the hidden directory,
 * which the next {@link #stage()} deletes; the target is never half-extracted. The target belongs
 * to staging: when it is replaced, files you added to it are deleted with it. A target that exists
 * without a marker (unpacked by hand, or by an older tool) is replaced only if everything in it
 * also comes from the archive; otherwise staging refuses rather than delete your files.
 *
 * <p><b>Reuse.</b> {@link #stage()} returns at once, without reading the archive, when the target's
 * marker matches the archive — same size and modification time, or, when {@link
 * Builder#sha256(String)} is given, same size and the digest that was verified when it was
 * extracted — and every listed file is present with its recorded size. Otherwise it extracts again;
 * the old copy is removed only after the new one is in place, so a failure (a full disk, a corrupt
 * archive) leaves the previous copy as it was.
 *
 * <p>Several threads or processes may stage into the same target at once: a lock file {@code
 * .<target-name>.lock} next to the target lets one extract while the others wait, then reuse.
 *
 * <p>Instances are immutable; {@link #stage()} may be called again (it then reuses).
 */
public final class DatasetStaging {

  private final Path archive;
  private final Path target;
  private final String sha256;
  private final PrintStream progress;
  private final boolean terminal;
  private final Clock clock;
  private final StagingFileOps fileOps;

  private DatasetStaging(Builder b) {
    this.archive = b.archive;
    this.target = b.target;
    this.sha256 = b.sha256;
    this.progress = b.progress;
    this.terminal =
        b.progress != null
            && System.console() != null
            && (b.progress == System.err || b.progress == System.out);
    this.clock = b.clock;
    this.fileOps = b.fileOps;
  }

  /**
   * Starts configuring the staging of {@code archive} into {@code target}.
   *
   * @param archive the .zip, .tar or .tar.gz file, typically on a mounted drive
   * @param target the directory to create on local disk; its parent is created if needed. It must
   *     not be a file system root, and the archive must not lie inside it.
   */
  public static Builder builder(Path archive, Path target) {
    return new Builder(archive, target);
  }

  /**
   * Makes {@link #target()} hold the archive's contents: reuses an intact earlier extraction, or
   * extracts (again).
   *
   * @return where the files are and whether they were reused
   * @throws java.nio.file.NoSuchFileException if the archive does not exist
   * @throws IOException if the archive is unreadable, corrupt, truncated or unsafe, its SHA-256
   *     differs from the expected one, or the local disk fails or fills up. The message names the
   *     archive entry involved where there is one, and what to do. In every case no partial
   *     extraction remains and an earlier intact copy in the target is left as it was.
   */
  public Staged stage() throws IOException {
    long start = clock.millis();
    StagingRun.Outcome outcome =
        new StagingRun(archive, target, sha256, progress, terminal, clock, fileOps).run();
    return new Staged(
        outcome.directory(),
        outcome.files(),
        outcome.bytes(),
        outcome.reused(),
        Duration.ofMillis(Math.max(0, clock.millis() - start)));
  }

  /** The archive to stage. */
  public Path archive() {
    return archive;
  }

  /** The directory the archive is staged into. */
  public Path target() {
    return target;
  }

  /**
   * The result of {@link #stage()}.
   *
   * @param directory the staged directory (absolute), holding the archive's files
   * @param files how many regular files it holds (directories not counted)
   * @param bytes the total size of those files
   * @param reused true when an earlier extraction was found intact and reused, false when the
   *     archive was extracted by this call
   * @param elapsed how long {@link #stage()} took, by the configured clock
   */
  public record Staged(Path directory, long files, long bytes, boolean reused, Duration elapsed) {}

  /** Configures a {@link DatasetStaging}. */
  public static final class Builder {
    private final Path archive;
    private final Path target;
    private String sha256;
    private PrintStream progress = System.err;
    private Clock clock = Clock.systemUTC();
    private StagingFileOps fileOps = StagingFileOps.SYSTEM;

    private Builder(Path archive, Path target) {
      this.archive = Objects.requireNonNull(archive, "archive == null");
      Objects.requireNonNull(target, "target == null");
      Path absolute = target.toAbsolutePath().normalize();
      if (absolute.getParent() == null) {
        throw new IllegalArgumentException(
            "target is a file system root (" + target + "); give a directory below it");
      }
      this.target = absolute;
    }

    /**
     * The archive's expected SHA-256, as 64 hexadecimal digits (as printed by {@code sha256sum}).
     * It is computed while the archive is extracted, at no extra read; a mismatch fails staging. A
     * staged copy made with this digest is then reused even if the archive's modification time
     * changes (a fresh copy of the same file). Default: none — reuse is then decided by the
     * archive's size and modification time.
     */
    public Builder sha256(String sha256) {
      Objects.requireNonNull(sha256, "sha256 == null");
      String digest = sha256.trim().toLowerCase(Locale.ROOT);
      if (!digest.matches("[0-9a-f]{64}")) {
        throw new IllegalArgumentException(
            "sha256 must be 64 hexadecimal digits (the first word sha256sum prints), got '"
                + sha256
                + "'");
      }
      this.sha256 = digest;
      return this;
    }

    /**
     * Where progress goes, or null for none. When this is {@code System.err} or {@code System.out}
     * and the JVM has a console, a bar is redrawn in place; otherwise (a notebook cell, a log file)
     * a line is printed at every 10% and at least every 30 seconds. Nothing is printed when the
     * target is reused. Default: {@code System.err}.
     */
    public Builder progress(PrintStream progress) {
      this.progress = progress;
      return this;
    }

    /**
     * The clock for progress rates and {@link Staged#elapsed()}. Default: the system clock (UTC).
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock == null");
      return this;
    }

    // VisibleForTesting: lets tests fail writes (a full disk) without filling a disk.
    Builder fileOps(StagingFileOps fileOps) {
      this.fileOps = Objects.requireNonNull(fileOps, "fileOps == null");
      return this;
    }

    public DatasetStaging build() {
      return new DatasetStaging(this);
    }
  }
}
