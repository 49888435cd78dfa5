package dev.kiln.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.loss.Loss;
import ai.djl.translate.Batchifier;
import dev.kiln.data.MnistDataset.Split;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MnistDatasetTest {

  private static final Path FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

  @TempDir Path dir;

  @Test
  void rawFilesAreReadWithPixelsScaledToZeroOne() throws IOException {
    writeImages("train-images-idx3-ubyte", false, 3);
    writeLabels("train-labels-idx1-ubyte", false, 7, 0, 9);

    MnistDataset dataset = MnistDataset.builder(dir, Split.TRAIN).normalization(0, 1).build();

    assertThat(dataset.size()).isEqualTo(3);
    assertThat(dataset.imageCount()).isEqualTo(3);
    assertThat(dataset.imageShape()).isEqualTo(new Shape(1, 28, 28));
    assertThat(dataset.numClasses()).isEqualTo(10);
    try (NDManager manager = NDManager.newBaseManager()) {
      Record record = dataset.get(manager, 2);
      NDArray data = record.getData().singletonOrThrow();
      NDArray label = record.getLabels().singletonOrThrow();
      assertThat(data.getShape()).isEqualTo(new Shape(1, 28, 28));
      assertThat(data.getDataType()).isEqualTo(DataType.FLOAT32);
      float[] values = data.toFloatArray();
      for (int p = 0; p < 784; p++) {
        assertThat(values[p]).isCloseTo(pixel(2, p) / 255f, within(1e-6f));
      }
      assertThat(label.getShape()).isEqualTo(new Shape());
      assertThat(label.getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(label.getFloat()).isEqualTo(9f);
    }
    assertThat(dataset.label(0)).isEqualTo(7);
  }

  @Test
  void pixelsAreNormalizedWithMnistMeanAndStdByDefault() throws IOException {
    writeImages("t10k-images-idx3-ubyte.gz", true, 2);
    writeLabels("t10k-labels-idx1-ubyte.gz", true, 1, 2);

    MnistDataset dataset = MnistDataset.builder(dir, Split.TEST).build();

    try (NDManager manager = NDManager.newBaseManager()) {
      float[] values = dataset.get(manager, 1).getData().singletonOrThrow().toFloatArray();
      for (int p = 0; p < 784; p += 97) {
        double expected = (pixel(1, p) / 255.0 - 0.1307) / 0.3081;
        assertThat((double) values[p]).isCloseTo(expected, within(1e-5));
      }
    }
  }

  @Test
  void gzipIsDetectedFromTheContentNotTheName() throws IOException {
    writeImages("train-images-idx3-ubyte", true, 2);
    writeLabels("train-labels-idx1-ubyte.gz", false, 3, 4);

    MnistDataset dataset = MnistDataset.builder(dir, Split.TRAIN).build();

    assertThat(dataset.size()).isEqualTo(2);
    assertThat(dataset.label(1)).isEqualTo(4);
  }

  @Test
  void testFilesMayBeSpelledTestInsteadOfT10k() throws IOException {
    writeImages("test-images-idx3-ubyte.gz", true, 1);
    writeLabels("test-labels.idx1-ubyte", false, 5);

    assertThat(MnistDataset.builder(dir, Split.TEST).build().label(0)).isEqualTo(5);
  }

  @Test
  void limitKeepsTheFirstImages() throws IOException {
    writeImages("train-images-idx3-ubyte", false, 5);
    writeLabels("train-labels-idx1-ubyte", false, 0, 1, 2, 3, 4);

    MnistDataset dataset = MnistDataset.builder(dir, Split.TRAIN).limit(2).build();

    assertThat(dataset.size()).isEqualTo(2);
    assertThat(dataset.label(1)).isEqualTo(1);
    try (NDManager manager = NDManager.newBaseManager()) {
      assertThatThrownBy(() -> dataset.get(manager, 2))
          .isInstanceOf(IndexOutOfBoundsException.class)
          .hasMessageContaining("index 2")
          .hasMessageContaining("2 records");
    }
  }

  @Test
  void aWholeBatchEqualsTheStackedRecordsInTheGivenOrder() throws IOException {
    writeImages("train-images-idx3-ubyte", false, 4);
    writeLabels("train-labels-idx1-ubyte", false, 3, 1, 4, 1);
    MnistDataset dataset = MnistDataset.builder(dir, Split.TRAIN).build();
    long[] order = {2, 0, 3};
    try (NDManager manager = NDManager.newBaseManager()) {
      NDList[] data = new NDList[3];
      NDList[] labels = new NDList[3];
      for (int i = 0; i < 3; i++) {
        Record record = dataset.get(manager, order[i]);
        data[i] = record.getData();
        labels[i] = record.getLabels();
      }
      NDList[] batch = dataset.batch(manager, order);
      assertThat(batch[0].head().getShape()).isEqualTo(new Shape(3, 1, 28, 28));
      assertThat(batch[0].head().toFloatArray())
          .containsExactly(Batchifier.STACK.batchify(data).head().toFloatArray());
      assertThat(batch[1].head().toFloatArray()).containsExactly(4f, 3f, 1f);
      assertThat(batch[1].head().getShape())
          .isEqualTo(Batchifier.STACK.batchify(labels).head().getShape());
    }
  }

  @Test
  void stackedRecordsFeedSoftmaxCrossEntropyAndAccuracy() throws IOException {
    writeImages("train-images-idx3-ubyte", false, 4);
    writeLabels("train-labels-idx1-ubyte", false, 3, 1, 4, 1);
    MnistDataset dataset = MnistDataset.builder(dir, Split.TRAIN).build();

    try (NDManager manager = NDManager.newBaseManager()) {
      NDList[] data = new NDList[4];
      NDList[] labels = new NDList[4];
      for (int i = 0; i < 4; i++) {
        Record record = dataset.get(manager, i);
        data[i] = record.getData();
        labels[i] = record.getLabels();
      }
      NDList batchData = Batchifier.STACK.batchify(data);
      NDList batchLabels = Batchifier.STACK.batchify(labels);
      assertThat(batchData.head().getShape()).isEqualTo(new Shape(4, 1, 28, 28));
      assertThat(batchLabels.head().getShape()).isEqualTo(new Shape(4));
      // Predictions that are right for records 0, 1 and 3 only.
      float[] logits = new float[40];
      int[] predicted = {3, 1, 0, 1};
      for (int i = 0; i < 4; i++) {
        logits[i * 10 + predicted[i]] = 10f;
      }
      NDList predictions = new NDList(manager.create(logits, new Shape(4, 10)));
      try (Batch batch =
          new Batch(manager, batchData, batchLabels, 4, Batchifier.STACK, Batchifier.STACK, 0, 1)) {
        float loss =
            Loss.softmaxCrossEntropyLoss().evaluate(batch.getLabels(), predictions).getFloat();
        Accuracy accuracy = new Accuracy();
        accuracy.addAccumulator("test");
        accuracy.updateAccumulator("test", batch.getLabels(), predictions);
        assertThat(loss).isFinite().isGreaterThan(0f);
        assertThat(accuracy.getAccumulator("test")).isEqualTo(0.75f);
      }
    }
  }

  @Test
  void djlsOwnIterationWorksWithoutConfiguringSampling() throws Exception {
    writeImages("train-images-idx3-ubyte", false, 3);
    writeLabels("train-labels-idx1-ubyte", false, 0, 1, 2);
    MnistDataset dataset = MnistDataset.builder(dir, Split.TRAIN).build();

    int batches = 0;
    try (NDManager manager = NDManager.newBaseManager()) {
      for (Batch batch : dataset.getData(manager)) {
        try (batch) {
          assertThat(batch.getData().head().getShape()).isEqualTo(new Shape(1, 1, 28, 28));
          assertThat(batch.getLabels().head().getFloat()).isEqualTo((float) batches);
        }
        batches++;
      }
    }
    assertThat(batches).isEqualTo(3);
  }

  @Test
  void aMissingDirectoryIsRejectedWithTheFix() {
    Path missing = dir.resolve("nowhere");

    assertThatThrownBy(() -> MnistDataset.builder(missing, Split.TRAIN).build())
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining(missing.toString())
        .hasMessageContaining("does not exist")
        .hasMessageContaining("dataset-fashion-mnist");
  }

  @Test
  void aMissingLabelsFileIsNamedAlongWithWhatTheDirectoryHolds() throws IOException {
    writeImages("train-images-idx3-ubyte.gz", true, 1);
    Files.writeString(dir.resolve("README"), "hello");

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("no train labels file")
        .hasMessageContaining("train-labels-idx1-ubyte[.gz]")
        .hasMessageContaining("README, train-images-idx3-ubyte.gz");
  }

  @Test
  void aFileWithTheWrongMagicNumberIsNotAnIdxFile() throws IOException {
    Files.write(dir.resolve("train-images-idx3-ubyte"), new byte[] {'<', 'h', 't', 'm', 'l', '>'});
    writeLabels("train-labels-idx1-ubyte", false, 1);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("not an MNIST IDX images file")
        .hasMessageContaining("expected magic number 2051, found " + 0x3c68746d)
        .hasMessageContaining("train-images-idx3-ubyte")
        .satisfies(
            e ->
                assertThat(((MnistFormatException) e).file())
                    .isEqualTo(dir.resolve("train-images-idx3-ubyte")));
  }

  @Test
  void imagesAndLabelsFilesThatAreSwappedAreRecognised() throws IOException {
    writeLabels("train-images-idx3-ubyte", false, 1);
    writeImages("train-labels-idx1-ubyte", false, 1);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("found 2049")
        .hasMessageContaining("swapped");
  }

  @Test
  void aTruncatedRawFileIsRejectedWithDeclaredAndHeldCounts() throws IOException {
    byte[] whole = imagesFile(3);
    write("train-images-idx3-ubyte", false, Arrays.copyOf(whole, 16 + 784 + 100));
    writeLabels("train-labels-idx1-ubyte", false, 1, 2, 3);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("truncated")
        .hasMessageContaining("declares 3 images but the file holds only 1")
        .hasMessageContaining("download it again");
  }

  @Test
  void aTruncatedGzipFileIsRejected() throws IOException {
    writeImages("train-images-idx3-ubyte.gz", true, 3);
    Path images = dir.resolve("train-images-idx3-ubyte.gz");
    byte[] gz = Files.readAllBytes(images);
    Files.write(images, Arrays.copyOf(gz, gz.length / 2));
    writeLabels("train-labels-idx1-ubyte", false, 1, 2, 3);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("train-images-idx3-ubyte.gz")
        .hasMessageContaining("download it again");
  }

  @Test
  void anEmptyFileIsRejected() throws IOException {
    Files.write(dir.resolve("train-images-idx3-ubyte"), new byte[0]);
    writeLabels("train-labels-idx1-ubyte", false, 1);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("ends inside its header");
  }

  @Test
  void imageAndLabelCountsThatDifferAreRejected() throws IOException {
    writeImages("train-images-idx3-ubyte", false, 3);
    writeLabels("train-labels-idx1-ubyte", false, 1, 2);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("declares 3 images")
        .hasMessageContaining("declares 2 labels")
        .hasMessageContaining("different splits");
  }

  @Test
  void imagesThatAreNot28By28AreRejected() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(2051);
    out.writeInt(1);
    out.writeInt(32);
    out.writeInt(32);
    out.write(new byte[32 * 32]);
    write("train-images-idx3-ubyte", false, bytes.toByteArray());
    writeLabels("train-labels-idx1-ubyte", false, 1);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("images of 32×32; MNIST images are 28×28");
  }

  @Test
  void aLabelOutsideZeroToNineIsRejectedWithItsIndex() throws IOException {
    writeImages("train-images-idx3-ubyte", false, 3);
    writeLabels("train-labels-idx1-ubyte", false, 1, 200, 3);

    assertThatThrownBy(() -> MnistDataset.builder(dir, Split.TRAIN).build())
        .isInstanceOf(MnistFormatException.class)
        .hasMessageContaining("label 200 at index 1")
        .hasMessageContaining("outside 0..9");
  }

  @Test
  void builderArgumentsAreCheckedWhenSet() {
    MnistDataset.Builder builder = MnistDataset.builder(dir, Split.TRAIN);

    assertThatThrownBy(() -> builder.limit(0)).hasMessage("limit (0) must be positive");
    assertThatThrownBy(() -> builder.normalization(0.5, 0))
        .hasMessage("std (0.0) must be positive and finite");
    assertThatThrownBy(() -> builder.normalization(Double.NaN, 1))
        .hasMessage("mean (NaN) must be a finite number");
    assertThatThrownBy(() -> MnistDataset.builder(null, Split.TRAIN)).hasMessage("directory");
  }

  @Test
  void realFashionMnistTestSplitHoldsTenThousandLabelledImages() throws IOException {
    assumeTrue(Files.isDirectory(FASHION_MNIST), "Fashion-MNIST is not installed");

    MnistDataset test = MnistDataset.builder(FASHION_MNIST, Split.TEST).build();

    assertThat(test.size()).isEqualTo(10_000);
    int[] perClass = new int[10];
    for (int i = 0; i < test.imageCount(); i++) {
      perClass[test.label(i)]++;
    }
    assertThat(perClass).containsOnly(1000);
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray first = test.get(manager, 0).getData().singletonOrThrow();
      assertThat(first.min().getFloat()).isCloseTo((float) (-0.1307 / 0.3081), within(1e-5f));
      assertThat(first.max().getFloat()).isGreaterThan(1f);
    }
  }

  /** A deterministic pixel value for image {@code image}, pixel {@code p}. */
  private static int pixel(int image, int p) {
    return (image * 31 + p * 7) % 256;
  }

  private static byte[] imagesFile(int count) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(2051);
    out.writeInt(count);
    out.writeInt(28);
    out.writeInt(28);
    for (int i = 0; i < count; i++) {
      for (int p = 0; p < 784; p++) {
        out.writeByte(pixel(i, p));
      }
    }
    return bytes.toByteArray();
  }

  private void writeImages(String name, boolean gzip, int count) throws IOException {
    write(name, gzip, imagesFile(count));
  }

  private void writeLabels(String name, boolean gzip, int... labels) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(2049);
    out.writeInt(labels.length);
    for (int label : labels) {
      out.writeByte(label);
    }
    write(name, gzip, bytes.toByteArray());
  }

  private void write(String name, boolean gzip, byte[] content) throws IOException {
    try (OutputStream file = Files.newOutputStream(dir.resolve(name));
        OutputStream out = gzip ? new GZIPOutputStream(file) : file) {
      out.write(content);
    }
  }
}
