package dev.kiln.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import dev.kiln.data.internal.IdxFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MNIST or Fashion-MNIST read from the four IDX files of the original distribution, held in memory.
 *
 * <pre>{@code
 * MnistDataset train = MnistDataset.builder(Path.of("/usr/share/datasets/fashion-mnist"),
 *     MnistDataset.Split.TRAIN).build();
 * MnistDataset test = MnistDataset.builder(dir, MnistDataset.Split.TEST).limit(1000).build();
 * }</pre>
 *
 * <p>The directory must hold {@code train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte},
 * {@code t10k-images-idx3-ubyte} and {@code t10k-labels-idx1-ubyte}, each gzip-compressed or not
 * (detected from the content, so a {@code .gz} suffix is optional). The test files may also be
 * spelled {@code test-*}, and {@code -idx} may be {@code .idx} as in some mirrors.
 *
 * <p>Each record's data is a float32 array of shape (1, 28, 28) — channel, height, width — holding
 * {@code (pixel / 255 - mean) / std}, by default with the mean 0.1307 and standard deviation 0.3081
 * of MNIST's training set. Each record's label is a float32 scalar (shape ()) holding the class
 * 0..9, so that DJL's default stack batchifier makes labels of shape (batch) as {@code
 * Loss.softmaxCrossEntropyLoss()} and {@code Accuracy} expect.
 *
 * <p>The files are read once, in {@link Builder#build()}; the pixels stay in memory as bytes (47 MB
 * for the 60,000 training images) and each record's arrays are made on demand, so {@link
 * #get(NDManager, long)} may be called from several threads. {@link #prepare(Progress)} does
 * nothing. The sampling inherited from {@link RandomAccessDataset} (used only by {@code getData})
 * is sequential with batches of one; Kiln's trainer batches and shuffles by itself through {@link
 * #get(NDManager, long)} and {@link #size()}.
 */
public final class MnistDataset extends RandomAccessDataset implements BatchSource {

  /** Mean pixel value of MNIST's training images, after scaling to [0, 1]. */
  public static final double DEFAULT_MEAN = 0.1307;

  /** Standard deviation of MNIST's training pixels, after scaling to [0, 1]. */
  public static final double DEFAULT_STD = 0.3081;

  private static final Logger LOG = LoggerFactory.getLogger(MnistDataset.class);

  private static final int ROWS = 28;
  private static final int COLUMNS = 28;
  private static final int PIXELS = ROWS * COLUMNS;
  private static final int CLASSES = 10;
  private static final Shape IMAGE_SHAPE = new Shape(1, ROWS, COLUMNS);

  /** Which of the two parts of the dataset to read. */
  public enum Split {
    /** The 60,000 training images: {@code train-*}. */
    TRAIN("train"),
    /** The 10,000 test images: {@code t10k-*} (or {@code test-*}). */
    TEST("t10k", "test");

    private final List<String> prefixes;

    Split(String... prefixes) {
      this.prefixes = List.of(prefixes);
    }
  }

  private final Path directory;
  private final Split split;
  private final int count;
  private final byte[] pixels;
  private final byte[] labels;
  private final float[] pixelValues;

  private MnistDataset(Builder builder, byte[] pixels, byte[] labels, int count) {
    super(new DefaultSampling());
    this.directory = builder.directory;
    this.split = builder.split;
    this.count = count;
    this.pixels = pixels;
    this.labels = labels;
    this.pixelValues = new float[256];
    for (int v = 0; v < pixelValues.length; v++) {
      pixelValues[v] = (float) ((v / 255.0 - builder.mean) / builder.std);
    }
  }

  /**
   * Starts a dataset reading {@code split} from {@code directory}.
   *
   * @param directory the directory holding the four IDX files, e.g. {@code
   *     /usr/share/datasets/fashion-mnist}
   * @param split which part to read
   */
  public static Builder builder(Path directory, Split split) {
    return new Builder(directory, split);
  }

  /**
   * The image at {@code index} as data (float32, shape (1, 28, 28), normalized) and its class as
   * label (float32, shape ()).
   *
   * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
   */
  @Override
  public Record get(NDManager manager, long index) {
    int i = checkIndex(index);
    float[] values = new float[PIXELS];
    int offset = i * PIXELS;
    for (int p = 0; p < PIXELS; p++) {
      values[p] = pixelValues[pixels[offset + p] & 0xff];
    }
    NDArray data = manager.create(values, IMAGE_SHAPE);
    NDArray label = manager.create((float) labels[i]);
    return new Record(new NDList(data), new NDList(label));
  }

  /**
   * The images at {@code indices} as one float32 array of shape (n, 1, 28, 28) and their classes as
   * one of shape (n): equal to stacking {@link #get} records, with two arrays made instead of 2n.
   */
  @Override
  public NDList[] batch(NDManager manager, long[] indices) {
    float[] values = new float[indices.length * PIXELS];
    float[] classes = new float[indices.length];
    for (int b = 0; b < indices.length; b++) {
      int i = checkIndex(indices[b]);
      int offset = i * PIXELS;
      int out = b * PIXELS;
      for (int p = 0; p < PIXELS; p++) {
        values[out + p] = pixelValues[pixels[offset + p] & 0xff];
      }
      classes[b] = labels[i];
    }
    NDArray data =
        manager.create(
            values, new Shape(indices.length, 1, IMAGE_SHAPE.get(1), IMAGE_SHAPE.get(2)));
    NDArray label = manager.create(classes, new Shape(indices.length));
    return new NDList[] {new NDList(data), new NDList(label)};
  }

  /** The class (0..9) of the image at {@code index}, without making arrays. */
  public int label(int index) {
    return labels[checkIndex(index)];
  }

  /** Number of images held: all of the split, or the {@link Builder#limit(int) limit}. */
  public int imageCount() {
    return count;
  }

  /** Shape of each record's data: (1, 28, 28). */
  public Shape imageShape() {
    return IMAGE_SHAPE;
  }

  /** Number of classes: 10. */
  public int numClasses() {
    return CLASSES;
  }

  /** The split this dataset holds. */
  public Split split() {
    return split;
  }

  /** The directory the files were read from. */
  public Path directory() {
    return directory;
  }

  @Override
  protected long availableSize() {
    return count;
  }

  /** Does nothing: the files were read when the dataset was built. */
  @Override
  public void prepare(Progress progress) {}

  @Override
  public String toString() {
    return "MnistDataset{"
        + split.name().toLowerCase(Locale.ROOT)
        + ", "
        + count
        + " images from "
        + directory
        + "}";
  }

  private int checkIndex(long index) {
    if (index < 0 || index >= count) {
      throw new IndexOutOfBoundsException(
          "index " + index + " is outside this dataset's " + count + " records [0, " + count + ")");
    }
    return (int) index;
  }

  /** Configures and reads an {@link MnistDataset}. */
  public static final class Builder {
    private final Path directory;
    private final Split split;
    private int limit = Integer.MAX_VALUE;
    private double mean = DEFAULT_MEAN;
    private double std = DEFAULT_STD;

    private Builder(Path directory, Split split) {
      this.directory = Objects.requireNonNull(directory, "directory");
      this.split = Objects.requireNonNull(split, "split");
    }

    /**
     * Keeps only the first {@code limit} images of the split; by default all of them. Useful for
     * quick runs and tests.
     */
    public Builder limit(int limit) {
      if (limit <= 0) {
        throw new IllegalArgumentException("limit (" + limit + ") must be positive");
      }
      this.limit = limit;
      return this;
    }

    /**
     * Pixels become {@code (pixel / 255 - mean) / std}. The default is {@link #DEFAULT_MEAN} and
     * {@link #DEFAULT_STD}; {@code normalization(0, 1)} gives raw values in [0, 1].
     */
    public Builder normalization(double mean, double std) {
      if (!Double.isFinite(mean)) {
        throw new IllegalArgumentException("mean (" + mean + ") must be a finite number");
      }
      if (!(std > 0) || !Double.isFinite(std)) {
        throw new IllegalArgumentException("std (" + std + ") must be positive and finite");
      }
      this.mean = mean;
      this.std = std;
      return this;
    }

    /**
     * Reads the split's images and labels into memory.
     *
     * @throws NoSuchFileException if the directory, or the split's images or labels file, is
     *     missing; the message lists what the directory holds
     * @throws MnistFormatException if a file is not a valid MNIST IDX file, or the images and
     *     labels do not match
     * @throws IOException if reading fails
     */
    public MnistDataset build() throws IOException {
      long started = System.nanoTime();
      checkDirectory();
      Path imagesFile = find("images", "images-idx3-ubyte");
      Path labelsFile = find("labels", "labels-idx1-ubyte");
      IdxFile.Contents images =
          IdxFile.read(
              imagesFile, "images", IdxFile.IMAGES_MAGIC, new int[] {ROWS, COLUMNS}, limit);
      IdxFile.Contents labels =
          IdxFile.read(labelsFile, "labels", IdxFile.LABELS_MAGIC, new int[0], limit);
      if (images.declaredCount() != labels.declaredCount()) {
        throw new MnistFormatException(
            labelsFile,
            imagesFile
                + " declares "
                + images.declaredCount()
                + " images but "
                + labelsFile
                + " declares "
                + labels.declaredCount()
                + " labels — the two files come from different splits or datasets; put the"
                + " matching pair in "
                + directory);
      }
      byte[] labelBytes = labels.data();
      for (int i = 0; i < labelBytes.length; i++) {
        int label = labelBytes[i] & 0xff;
        if (label >= CLASSES) {
          throw new MnistFormatException(
              labelsFile,
              labelsFile
                  + " has label "
                  + label
                  + " at index "
                  + i
                  + ", outside 0..9 — the file is corrupt or not MNIST labels; download it again");
        }
      }
      MnistDataset dataset = new MnistDataset(this, images.data(), labelBytes, images.count());
      LOG.debug(
          "Read {} {} images from {} in {} ms",
          dataset.count,
          split.name().toLowerCase(Locale.ROOT),
          directory,
          (System.nanoTime() - started) / 1_000_000);
      return dataset;
    }

    private void checkDirectory() throws NoSuchFileException {
      String fix =
          " — pass the directory that holds train-images-idx3-ubyte.gz,"
              + " train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and"
              + " t10k-labels-idx1-ubyte.gz (for Fashion-MNIST, install the Debian package"
              + " dataset-fashion-mnist, which puts them in /usr/share/datasets/fashion-mnist)";
      if (!Files.exists(directory)) {
        throw new NoSuchFileException(
            directory.toString(), null, "MNIST directory does not exist" + fix);
      }
      if (!Files.isDirectory(directory)) {
        throw new NoSuchFileException(
            directory.toString(), null, "is a file, not an MNIST directory" + fix);
      }
    }

    private Path find(String what, String suffix) throws IOException {
      List<String> tried = new ArrayList<>();
      for (String prefix : split.prefixes) {
        for (String stem :
            List.of(prefix + "-" + suffix, prefix + "-" + suffix.replace("-idx", ".idx"))) {
          tried.add(stem + "[.gz]");
          for (String name : List.of(stem + ".gz", stem)) {
            Path candidate = directory.resolve(name);
            if (Files.isRegularFile(candidate)) {
              return candidate;
            }
          }
        }
      }
      throw new NoSuchFileException(
          directory.resolve(split.prefixes.get(0) + "-" + suffix + ".gz").toString(),
          null,
          "no "
              + split.name().toLowerCase(Locale.ROOT)
              + " "
              + what
              + " file in "
              + directory
              + " (looked for "
              + String.join(", ", tried)
              + "); the directory holds "
              + listing()
              + " — put the missing file there, or pass the directory that holds"
              + " all four MNIST files");
    }

    private String listing() throws IOException {
      try (Stream<Path> files = Files.list(directory)) {
        List<String> names =
            files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        if (names.isEmpty()) {
          return "nothing";
        }
        if (names.size() > 12) {
          return String.join(", ", names.subList(0, 12)) + " and " + (names.size() - 12) + " more";
        }
        return String.join(", ", names);
      }
    }
  }

  /** The sampling DJL's base class insists on; unused by Kiln, which samples by itself. */
  private static final class DefaultSampling
      extends RandomAccessDataset.BaseBuilder<DefaultSampling> {
    DefaultSampling() {
      setSampling(1, false);
    }

    @Override
    protected DefaultSampling self() {
      return this;
    }
  }
}
