package dev.kiln.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Finds the directory holding the four MNIST-format files, in this order: {@code --data}, the
 * environment variable {@code KILN_DATA}, the Debian package's directory {@code
 * /usr/share/datasets/fashion-mnist}, the download cache (downloading into it when incomplete).
 *
 * <p>A directory named explicitly ({@code --data} or {@code KILN_DATA}) must be right: it is never
 * silently replaced by another source. When no source works, one error lists every place tried.
 */
public final class DataLocator {

  /** Where the Debian package {@code dataset-fashion-mnist} installs the files. */
  public static final Path SYSTEM_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");

  /** The environment variable naming a data directory. */
  public static final String ENVIRONMENT_VARIABLE = "KILN_DATA";

  private static final String HOW_TO_GET =
      "install the Debian package (apt-get install dataset-fashion-mnist), or pass --data DIR"
          + " naming a directory with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,"
          + " t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz";

  private final Path systemDirectory;
  private final Path cacheDirectory;
  private final FashionMnistDownload download;

  /**
   * @param systemDirectory the system-wide directory, normally {@link #SYSTEM_DIRECTORY}
   * @param cacheDirectory where downloads go, normally {@link #defaultCacheDirectory}
   * @param download the downloader, or null to never download
   */
  public DataLocator(Path systemDirectory, Path cacheDirectory, FashionMnistDownload download) {
    this.systemDirectory = Objects.requireNonNull(systemDirectory, "systemDirectory");
    this.cacheDirectory = Objects.requireNonNull(cacheDirectory, "cacheDirectory");
    this.download = download;
  }

  /** {@code $XDG_CACHE_HOME/kiln/fashion-mnist}, else {@code ~/.cache/kiln/fashion-mnist}. */
  public static Path defaultCacheDirectory(java.util.Map<String, String> environment) {
    String xdg = environment.get("XDG_CACHE_HOME");
    Path base =
        xdg != null && !xdg.isBlank()
            ? Path.of(xdg)
            : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("kiln").resolve("fashion-mnist");
  }

  /**
   * The data directory to use.
   *
   * @param flag the {@code --data} value, if given
   * @param environmentValue the {@code KILN_DATA} value, if set
   * @throws UsageException when the named directory is wrong, or no source has the data
   */
  public Path locate(Optional<Path> flag, Optional<String> environmentValue) throws UsageException {
    if (flag.isPresent()) {
      return checkNamed(flag.get(), "--data " + flag.get());
    }
    if (environmentValue.isPresent() && !environmentValue.get().isBlank()) {
      Path p = Path.of(environmentValue.get());
      return checkNamed(p, ENVIRONMENT_VARIABLE + "=" + p);
    }
    List<String> tried = new ArrayList<>();
    tried.add("--data (not given)");
    tried.add(ENVIRONMENT_VARIABLE + " (not set)");
    List<String> missing = missingFiles(systemDirectory);
    if (missing.isEmpty()) {
      return systemDirectory;
    }
    tried.add(systemDirectory + " (" + absence(systemDirectory, missing) + ")");
    if (download == null) {
      List<String> cached = missingFiles(cacheDirectory);
      if (cached.isEmpty()) {
        return cacheDirectory;
      }
      tried.add(cacheDirectory + " (" + absence(cacheDirectory, cached) + "; downloads are off)");
    } else {
      try {
        return download.downloadTo(cacheDirectory);
      } catch (IOException e) {
        tried.add("a download into " + cacheDirectory + " (" + e.getMessage() + ")");
      }
    }
    throw new UsageException(
        "no Fashion-MNIST data found; tried " + String.join(", ", tried) + " — " + HOW_TO_GET);
  }

  private static Path checkNamed(Path directory, String source) throws UsageException {
    if (!Files.exists(directory)) {
      throw new UsageException(source + ": no such directory — " + HOW_TO_GET);
    }
    if (!Files.isDirectory(directory)) {
      throw new UsageException(source + ": is a file, not a directory — " + HOW_TO_GET);
    }
    List<String> missing = missingFiles(directory);
    if (!missing.isEmpty()) {
      throw new UsageException(
          source
              + ": "
              + absence(directory, missing)
              + " — put the missing files there, or "
              + HOW_TO_GET);
    }
    return directory;
  }

  private static String absence(Path directory, List<String> missing) {
    if (!Files.isDirectory(directory)) {
      return "no such directory";
    }
    return "no " + String.join(", no ", missing);
  }

  /**
   * The files {@code dev.kiln.data.MnistDataset} needs that {@code directory} lacks, by their usual
   * names. Accepts the spellings MnistDataset accepts: gzip or not, {@code t10k} or {@code test},
   * {@code -idx} or {@code .idx}.
   */
  static List<String> missingFiles(Path directory) {
    List<String> missing = new ArrayList<>();
    if (!Files.isDirectory(directory)) {
      return List.of(
          "train-images-idx3-ubyte.gz",
          "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz");
    }
    for (String[] file :
        new String[][] {
          {"train", "images-idx3-ubyte"}, {"train", "labels-idx1-ubyte"},
          {"t10k", "images-idx3-ubyte"}, {"t10k", "labels-idx1-ubyte"}
        }) {
      List<String> prefixes = file[0].equals("t10k") ? List.of("t10k", "test") : List.of("train");
      boolean found = false;
      for (String prefix : prefixes) {
        for (String suffix : List.of(file[1], file[1].replace("-idx", ".idx"))) {
          for (String ext : List.of(".gz", "")) {
            found |= Files.isRegularFile(directory.resolve(prefix + "-" + suffix + ext));
          }
        }
      }
      if (!found) {
        missing.add(file[0] + "-" + file[1] + ".gz");
      }
    }
    return missing;
  }
}
