package dev.kiln.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
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
}
