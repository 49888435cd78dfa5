package dev.kiln.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorFileTest {

  @TempDir Path dir;

  private NDManager manager;

  @BeforeEach
  void setUp() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void tearDown() {
    manager.close();
  }

  private Map<String, NDArray> sampleTensors() {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("conv1.weight", manager.arange(0f, 288f).reshape(32, 1, 3, 3));
    tensors.put("fc.bias", manager.create(new float[] {1.5f, -2f}));
    tensors.put("step", manager.create(new long[] {42L}));
    tensors.put("mask", manager.create(new boolean[] {true, false, true}));
    return tensors;
  }

  @Test
  void roundTripKeepsNamesOrderDataTypesShapesAndValues() throws IOException {
    Map<String, NDArray> tensors = sampleTensors();
    Path file = dir.resolve("model.ndlist");

    TensorFile.write(file, tensors);
    Map<String, NDArray> read = TensorFile.read(file, manager);

    assertThat(read.keySet()).containsExactly("conv1.weight", "fc.bias", "step", "mask");
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      NDArray actual = read.get(e.getKey());
      assertThat(actual.getDataType()).as(e.getKey()).isEqualTo(e.getValue().getDataType());
      assertThat(actual.getShape()).as(e.getKey()).isEqualTo(e.getValue().getShape());
      assertThat(actual.contentEquals(e.getValue())).as(e.getKey()).isTrue();
    }
    assertThat(read.get("step").getDataType()).isEqualTo(DataType.INT64);
  }

  @Test
  void writingRestoresTheArraysOwnNames() throws IOException {
    NDArray array = manager.ones(new Shape(2));
    array.setName("original");

    TensorFile.write(dir.resolve("t.ndlist"), Map.of("saved.as", array));

    assertThat(array.getName()).isEqualTo("original");
    assertThat(TensorFile.read(dir.resolve("t.ndlist"), manager)).containsOnlyKeys("saved.as");
  }

  @Test
  void fileIsReadableByPlainDjl() throws IOException {
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, sampleTensors());

    try (InputStream in = Files.newInputStream(file)) {
      NDList list = NDList.decode(manager, in);
      assertThat(list.get("fc.bias").toFloatArray()).containsExactly(1.5f, -2f);
    }
  }

  @Test
  void emptyMapRoundTrips() throws IOException {
    Path file = dir.resolve("empty.ndlist");

    TensorFile.write(file, Map.of());

    assertThat(TensorFile.read(file, manager)).isEmpty();
  }

  @Test
  void shapeMismatchNamesTheParameterAndBothShapes() throws IOException {
    Path file = dir.resolve("model.ndlist");
    TensorFile.write(file, sampleTensors());
    Map<String, Shape> expected = new LinkedHashMap<>();
    expected.put("conv1.weight", new Shape(64, 1, 3, 3));
    expected.put("fc.bias", new Shape(2));
    expected.put("step", new Shape(1));
    expected.put("mask", new Shape(3));

    assertThatThrownBy(() -> TensorFile.read(file, manager, expected))
        .isInstanceOf(CheckpointException.class)
        .hasMessage(
            "Tensor file "
                + file
                + " does not match: parameter 'conv1.weight' has shape (32, 1, 3, 3) in the file"
                + " but (64, 1, 3, 3) is expected — load it into the same model architecture it was"
                + " saved from");
  }

  @Test
  void nameMismatchListsMissingAndUnexpectedNames() throws IOException {
    Path file = dir.resolve("model.ndlist");
    TensorFile.write(file, sampleTensors());
    Map<String, Shape> expected = new LinkedHashMap<>();
    expected.put("conv1.weight", new Shape(32, 1, 3, 3));
    expected.put("fc.weight", new Shape(2, 10));
    expected.put("fc.bias", new Shape(2));

    assertThatThrownBy(() -> TensorFile.read(file, manager, expected))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("missing [fc.weight]; unexpected [step, mask]");
  }

  @Test
  void matchingExpectationReturnsTheTensors() throws IOException {
    Path file = dir.resolve("model.ndlist");
    TensorFile.write(file, sampleTensors());
    Map<String, Shape> expected =
        Map.of(
            "conv1.weight",
            new Shape(32, 1, 3, 3),
            "fc.bias",
            new Shape(2),
            "step",
            new Shape(1),
            "mask",
            new Shape(3));

    assertThat(TensorFile.read(file, manager, expected)).hasSize(4);
  }

  @Test
  void unnamedTensorsFromPlainDjlAreRejected() throws IOException {
    Path file = dir.resolve("plain.ndlist");
    Files.write(file, new NDList(manager.ones(new Shape(2))).encode());

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("tensor #0 has no name");
  }

  @Test
  void garbageFileFailsWithCheckpointExceptionNamingIt() throws IOException {
    Path file = Files.writeString(dir.resolve("junk.ndlist"), "this is not a tensor file");

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("Tensor file " + file + " is not readable as a DJL NDList")
        .hasMessageContaining("damaged");
  }

  // ---------------------------------------------------------------- compatibility with DJL

  @Test
  void plainDjlDecodesEveryTensorWithItsNameShapeDataTypeAndValues() throws IOException {
    Map<String, NDArray> tensors = sampleTensors();
    tensors.put("scalar", manager.create(2.5f));
    tensors.put("float64", manager.create(new double[] {1e-300, -3.25}).reshape(2, 1));
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, tensors);

    NDList list;
    try (InputStream in = Files.newInputStream(file)) {
      list = NDList.decode(manager, in);
    }

    assertThat(list).extracting(NDArray::getName).containsExactlyElementsOf(tensors.keySet());
    for (NDArray actual : list) {
      NDArray expected = tensors.get(actual.getName());
      assertThat(actual.getDataType()).as(actual.getName()).isEqualTo(expected.getDataType());
      assertThat(actual.getShape()).as(actual.getName()).isEqualTo(expected.getShape());
      assertThat(actual.contentEquals(expected)).as(actual.getName()).isTrue();
    }
  }

  @Test
  void fileHoldsExactlyTheBytesDjlEncodesForTheSameNamedArrays() throws IOException {
    Map<String, NDArray> tensors = sampleTensors();
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, tensors);
    NDList named = new NDList();
    tensors.forEach(
        (name, array) -> {
          NDArray copy = array.duplicate();
          copy.setName(name);
          named.add(copy);
        });

    assertThat(Files.readAllBytes(file)).isEqualTo(named.encode());
  }

  @Test
  void namedArraysEncodedByPlainDjlAreReadInFileOrder() throws IOException {
    NDArray weight = manager.arange(0f, 12f).reshape(3, 4);
    weight.setName("fc.weight");
    NDArray count = manager.create(new long[] {7L, Long.MAX_VALUE});
    count.setName("count");
    Path file = dir.resolve("djl.ndlist");
    try (OutputStream out = Files.newOutputStream(file)) {
      new NDList(weight, count).encode(out);
    }

    Map<String, NDArray> read = TensorFile.read(file, manager);

    assertThat(read.keySet()).containsExactly("fc.weight", "count");
    assertThat(read.get("fc.weight").getShape()).isEqualTo(new Shape(3, 4));
    assertThat(read.get("fc.weight").contentEquals(weight)).isTrue();
    assertThat(read.get("count").toLongArray()).containsExactly(7L, Long.MAX_VALUE);
  }

  @Test
  void safetensorsFileIsReadThroughDjl() throws IOException {
    NDArray weight = manager.arange(0f, 6f).reshape(2, 3);
    weight.setName("w");
    Path file = dir.resolve("t.safetensors");
    try (OutputStream out = Files.newOutputStream(file)) {
      new NDList(weight).encode(out, NDList.Encoding.SAFETENSORS);
    }

    Map<String, NDArray> read = TensorFile.read(file, manager);

    assertThat(read).containsOnlyKeys("w");
    assertThat(read.get("w").contentEquals(weight)).isTrue();
  }

  @Test
  void nonContiguousTensorIsWrittenWithItsLogicalValues() throws IOException {
    NDArray transposed = manager.arange(0f, 6f).reshape(2, 3).transpose();
    NDArray slice = manager.arange(0f, 20f).reshape(4, 5).get("1:3, 1:4");
    Path file = dir.resolve("t.ndlist");
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("transposed", transposed);
    tensors.put("slice", slice);

    TensorFile.write(file, tensors);
    Map<String, NDArray> read = TensorFile.read(file, manager);

    assertThat(read.get("transposed").getShape()).isEqualTo(new Shape(3, 2));
    assertThat(read.get("transposed").toFloatArray()).containsExactly(0f, 3f, 1f, 4f, 2f, 5f);
    assertThat(read.get("slice").getShape()).isEqualTo(new Shape(2, 3));
    assertThat(read.get("slice").toFloatArray()).containsExactly(6f, 7f, 8f, 11f, 12f, 13f);
  }

  @Test
  void writingLeavesNoNewArraysInTheTensorsManager() throws IOException {
    NDManager owner = manager.newSubManager();
    NDArray contiguous = owner.arange(0f, 6f);
    NDArray transposed = owner.arange(0f, 6f).reshape(2, 3).transpose();
    int before = owner.getManagedArrays().size();

    TensorFile.write(
        dir.resolve("t.ndlist"), Map.of("contiguous", contiguous, "transposed", transposed));

    assertThat(owner.getManagedArrays()).hasSize(before);
  }

  @Test
  void scalarAndZeroElementTensorsRoundTrip() throws IOException {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("scalar", manager.create(-7.5f));
    tensors.put("empty", manager.zeros(new Shape(0, 3)));
    tensors.put("after", manager.create(new int[] {9}));
    Path file = dir.resolve("t.ndlist");

    TensorFile.write(file, tensors);
    Map<String, NDArray> read = TensorFile.read(file, manager);

    assertThat(read.get("scalar").getShape()).isEqualTo(new Shape());
    assertThat(read.get("scalar").getFloat()).isEqualTo(-7.5f);
    assertThat(read.get("empty").getShape()).isEqualTo(new Shape(0, 3));
    assertThat(read.get("empty").getDataType()).isEqualTo(DataType.FLOAT32);
    assertThat(read.get("after").toIntArray()).containsExactly(9);
  }

  // ---------------------------------------------------------------- readInto

  @Test
  void readIntoCopiesEachTensorsValuesIntoTheExistingArrayOfItsName() throws IOException {
    Path file = dir.resolve("t.ndlist");
    Map<String, NDArray> saved = new LinkedHashMap<>();
    saved.put("w", manager.arange(0f, 12f).reshape(3, 4));
    saved.put("step", manager.create(new long[] {42L, -1L}));
    TensorFile.write(file, saved);
    NDArray w = manager.zeros(new Shape(3, 4));
    NDArray step = manager.zeros(new Shape(2), DataType.INT64);

    TensorFile.readInto(file, Map.of("step", step, "w", w));

    assertThat(w.toFloatArray()).containsExactly(saved.get("w").toFloatArray());
    assertThat(step.getDataType()).isEqualTo(DataType.INT64);
    assertThat(step.toLongArray()).containsExactly(42L, -1L);
  }

  @Test
  void readIntoOnTwoThreadsAtOnceFillsEachThreadsTargetsWithItsOwnFile() throws Exception {
    // Both threads want the one kept staging buffer; neither may see the other's bytes.
    Path[] files = {dir.resolve("a.ndlist"), dir.resolve("b.ndlist")};
    TensorFile.write(files[0], Map.of("w", manager.arange(0f, 50_000f)));
    TensorFile.write(files[1], Map.of("w", manager.arange(0f, 50_000f).neg()));
    NDArray[] targets = {manager.zeros(new Shape(50_000)), manager.zeros(new Shape(50_000))};
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
    java.util.List<Throwable> failures =
        java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    Thread[] threads = new Thread[2];
    for (int t = 0; t < 2; t++) {
      int me = t;
      threads[t] =
          new Thread(
              () -> {
                try {
                  start.await();
                  for (int round = 0; round < 50; round++) {
                    targets[me].set(new ai.djl.ndarray.index.NDIndex("..."), 7f);
                    TensorFile.readInto(files[me], Map.of("w", targets[me]));
                    float[] values = targets[me].toFloatArray();
                    float expected = me == 0 ? 49_999f : -49_999f;
                    if (values[49_999] != expected || values[1] != (me == 0 ? 1f : -1f)) {
                      throw new AssertionError(
                          "thread " + me + " round " + round + " read " + values[49_999]);
                    }
                  }
                } catch (Throwable e) {
                  failures.add(e);
                }
              });
      threads[t].start();
    }
    for (Thread thread : threads) {
      thread.join();
    }

    assertThat(failures).isEmpty();
  }

  @Test
  void readIntoFillsAParameterThatRequiresGradientsOnAThreadWithGradModeOn() throws Exception {
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, Map.of("w", manager.arange(0f, 6f).reshape(2, 3)));
    NDArray w = manager.zeros(new Shape(2, 3));
    w.setRequiresGradient(true);
    Throwable[] failure = new Throwable[1];

    // A fresh thread: PyTorch's grad mode is thread-local and on by default.
    Thread thread =
        new Thread(
            () -> {
              try {
                TensorFile.readInto(file, Map.of("w", w));
              } catch (Throwable t) {
                failure[0] = t;
              }
            });
    thread.start();
    thread.join();

    assertThat(failure[0]).isNull();
    assertThat(w.toFloatArray()).containsExactly(0f, 1f, 2f, 3f, 4f, 5f);
    assertThat(w.hasGradient()).isTrue();
  }

  @Test
  void readIntoFillsANonContiguousTargetThroughToTheArrayItViews() throws IOException {
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, Map.of("w", manager.arange(0f, 6f).reshape(3, 2)));
    NDArray base = manager.zeros(new Shape(2, 3));
    NDArray view = base.transpose();

    TensorFile.readInto(file, Map.of("w", view));

    assertThat(view.getShape()).isEqualTo(new Shape(3, 2));
    assertThat(view.toFloatArray()).containsExactly(0f, 1f, 2f, 3f, 4f, 5f);
    assertThat(base.toFloatArray()).containsExactly(0f, 2f, 4f, 1f, 3f, 5f);
  }

  @Test
  void readIntoConvertsFloat32ValuesIntoAFloat64Target() throws IOException {
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, Map.of("w", manager.create(new float[] {0.1f, -2.5f, 3e7f})));
    NDArray target = manager.zeros(new Shape(3), DataType.FLOAT64);

    TensorFile.readInto(file, Map.of("w", target));

    assertThat(target.getDataType()).isEqualTo(DataType.FLOAT64);
    assertThat(target.toDoubleArray()).containsExactly((double) 0.1f, -2.5, 3e7);
  }

  @Test
  void readIntoWithAWrongShapeWritesNothingAndNamesTheParameterAndBothShapes() throws IOException {
    Path file = dir.resolve("model.ndlist");
    TensorFile.write(file, sampleTensors());
    Map<String, NDArray> targets = new LinkedHashMap<>();
    targets.put("conv1.weight", manager.full(new Shape(32, 1, 3, 3), 9f));
    targets.put("fc.bias", manager.full(new Shape(3), 9f));
    targets.put("step", manager.create(new long[] {9L}));
    targets.put("mask", manager.create(new boolean[] {false, false, false}));

    assertThatThrownBy(() -> TensorFile.readInto(file, targets))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("Tensor file " + file)
        .hasMessageContaining("parameter 'fc.bias' has shape (2) in the file but (3) is expected");
    assertUntouched(targets);
  }

  @Test
  void readIntoWithAMissingAndAnUnexpectedNameWritesNothingAndNamesBoth() throws IOException {
    Path file = dir.resolve("model.ndlist");
    TensorFile.write(file, sampleTensors());
    Map<String, NDArray> targets = new LinkedHashMap<>();
    targets.put("conv1.weight", manager.full(new Shape(32, 1, 3, 3), 9f));
    targets.put("fc.bias", manager.full(new Shape(2), 9f));
    targets.put("step", manager.create(new long[] {9L}));
    targets.put("fc.weight", manager.full(new Shape(2, 3), 9f));

    assertThatThrownBy(() -> TensorFile.readInto(file, targets))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("missing [fc.weight]")
        .hasMessageContaining("unexpected [mask]");
    assertUntouched(targets);
  }

  @Test
  void readIntoHandlesAScalarAndAZeroElementTensor() throws IOException {
    Path file = dir.resolve("t.ndlist");
    Map<String, NDArray> saved = new LinkedHashMap<>();
    saved.put("scalar", manager.create(-7.5f));
    saved.put("empty", manager.zeros(new Shape(0, 3)));
    saved.put("after", manager.create(new float[] {1f, 2f}));
    TensorFile.write(file, saved);
    NDArray scalar = manager.create(0f);
    NDArray empty = manager.zeros(new Shape(0, 3));
    NDArray after = manager.zeros(new Shape(2));

    TensorFile.readInto(file, Map.of("scalar", scalar, "empty", empty, "after", after));

    assertThat(scalar.getFloat()).isEqualTo(-7.5f);
    assertThat(empty.getShape()).isEqualTo(new Shape(0, 3));
    assertThat(after.toFloatArray()).containsExactly(1f, 2f);
  }

  @Test
  void readIntoLeavesNoNewArraysInTheTargetsManager() throws IOException {
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, sampleTensors());
    NDManager owner = manager.newSubManager();
    Map<String, NDArray> targets = new LinkedHashMap<>();
    targets.put("conv1.weight", owner.zeros(new Shape(32, 1, 3, 3)));
    targets.put("fc.bias", owner.zeros(new Shape(2), DataType.FLOAT64));
    targets.put("step", owner.zeros(new Shape(1), DataType.INT64));
    targets.put("mask", owner.zeros(new Shape(3), DataType.BOOLEAN));
    int before = owner.getManagedArrays().size();

    TensorFile.readInto(file, targets);

    assertThat(owner.getManagedArrays()).hasSize(before);
    assertThat(targets.get("mask").toBooleanArray()).containsExactly(true, false, true);
  }

  @Test
  void readIntoOfAFileWithoutTensorsAcceptsNoTargetsAndNamesAnyAsMissing() throws IOException {
    Path file = dir.resolve("empty.ndlist");
    TensorFile.write(file, Map.of());

    TensorFile.readInto(file, Map.of());
    assertThatThrownBy(() -> TensorFile.readInto(file, Map.of("w", manager.zeros(new Shape(1)))))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("missing [w]");
  }

  @Test
  void readIntoOfASafetensorsFileExplainsItNeedsTheNdListFormat() throws IOException {
    NDArray weight = manager.ones(new Shape(2));
    weight.setName("w");
    Path file = dir.resolve("t.safetensors");
    try (OutputStream out = Files.newOutputStream(file)) {
      new NDList(weight).encode(out, NDList.Encoding.SAFETENSORS);
    }

    assertThatThrownBy(() -> TensorFile.readInto(file, Map.of("w", manager.zeros(new Shape(2)))))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("another format");
  }

  // ---------------------------------------------------------------- damaged files

  /** {@code w}: 1000 float32 values, then {@code b}: 2 float32 values. */
  private Path twoTensorFile() throws IOException {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("w", manager.arange(0f, 1000f));
    tensors.put("b", manager.create(new float[] {1f, 2f}));
    Path file = dir.resolve("model.ndlist");
    TensorFile.write(file, tensors);
    return file;
  }

  private Map<String, NDArray> twoTensorTargets() {
    Map<String, NDArray> targets = new LinkedHashMap<>();
    targets.put("w", manager.full(new Shape(1000), 9f));
    targets.put("b", manager.full(new Shape(2), 9f));
    return targets;
  }

  @Test
  void fileTruncatedInsideTensorDataIsReportedAsTruncatedAtAByte() throws IOException {
    Path file = twoTensorFile();
    long size = Files.size(file);
    truncate(file, size - 100); // inside the data of w
    Map<String, NDArray> targets = twoTensorTargets();

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("Tensor file " + file)
        .hasMessageContaining("truncated")
        .hasMessageMatching("(?s).* at byte \\d+.*");
    assertThatThrownBy(() -> TensorFile.readInto(file, targets))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("truncated");
    assertUntouched(targets);
  }

  @Test
  void fileTruncatedInTheLastTensorsDataNamesThatTensor() throws IOException {
    Path file = twoTensorFile();
    truncate(file, Files.size(file) - 1);

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("array 'b' needs 8 bytes but the file has 7 left (truncated)");
  }

  @Test
  void fileTruncatedInsideTheFirstHeaderIsReportedAsTruncated() throws IOException {
    Path file = twoTensorFile();
    truncate(file, 12);

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("truncated")
        .hasMessageContaining("at byte ");
  }

  @Test
  void bytesAfterTheLastTensorAreReportedWithTheirCountAndWhereTheyStart() throws IOException {
    Path file = twoTensorFile();
    long size = Files.size(file);
    Files.write(file, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
    Map<String, NDArray> targets = twoTensorTargets();

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("3 bytes follow the last of 2 arrays at byte " + size);
    assertThatThrownBy(() -> TensorFile.readInto(file, targets))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("3 bytes follow the last of 2 arrays at byte " + size);
    assertUntouched(targets);
  }

  @Test
  void negativeArrayCountIsReported() throws IOException {
    Path file = twoTensorFile();
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.writeInt(-1);
    }

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("the array count is negative (-1) at byte 4");
  }

  @Test
  void hugeArrayCountInASmallFileIsReportedAsTruncated() throws IOException {
    Path file = twoTensorFile();
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.writeInt(Integer.MAX_VALUE);
    }

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("truncated");
  }

  @Test
  void unknownDataTypeIsReportedWithItsNameAndWhere() throws IOException {
    Path file = twoTensorFile();
    byte[] bytes = Files.readAllBytes(file);
    int at = indexOf(bytes, "FLOAT32".getBytes(StandardCharsets.US_ASCII));
    System.arraycopy("FLOAT99".getBytes(StandardCharsets.US_ASCII), 0, bytes, at, 7);
    Files.write(file, bytes);

    Throwable thrown = catchThrowable(() -> TensorFile.read(file, manager));

    assertThat(thrown)
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("array 'w' has an unknown data type 'FLOAT99' at byte ");
    Matcher m = Pattern.compile("at byte (\\d+)").matcher(thrown.getMessage());
    assertThat(m.find()).isTrue();
    assertThat(Long.parseLong(m.group(1))).isBetween((long) at - 2, (long) at + 7);
  }

  @Test
  void dataLengthThatDoesNotFitTheShapeIsReported() throws IOException {
    Path file = dir.resolve("t.ndlist");
    TensorFile.write(file, Map.of("w", manager.create(new float[] {1f, 2f})));
    byte[] bytes = Files.readAllBytes(file);
    // The data length (8) is the int just before the 8 data bytes at the end.
    ByteBuffer.wrap(bytes).putInt(bytes.length - 12, 4);
    Files.write(file, bytes);

    assertThatThrownBy(() -> TensorFile.read(file, manager))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("array 'w' holds 4 bytes but its shape (2) of float32 needs 8");
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
        return i;
      }
    }
    throw new AssertionError("not found");
  }

  private static void truncate(Path file, long size) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(size);
    }
  }

  /** Every target still holds only 9 (or false, for booleans). */
  private static void assertUntouched(Map<String, NDArray> targets) {
    targets.forEach(
        (name, array) -> {
          if (array.getDataType() == DataType.BOOLEAN) {
            assertThat(array.toBooleanArray()).as(name).containsOnly(false);
          } else {
            assertThat(array.toType(DataType.FLOAT64, false).toDoubleArray())
                .as(name)
                .containsOnly(9.0);
          }
        });
  }
}
