package dev.kiln.examples;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MnistNetTest {

  @Test
  void eachLayerHasTheShapeOfTheNotesNet() {
    try (NDManager manager = NDManager.newBaseManager()) {
      SequentialBlock net = MnistNet.newBlock();
      Shape input = new Shape(5, 1, 28, 28);
      net.initialize(manager, DataType.FLOAT32, input);

      List<Shape> shapes = new ArrayList<>();
      Shape[] current = {input};
      for (Pair<String, Block> child : net.getChildren()) {
        current = child.getValue().getOutputShapes(current);
        shapes.add(current[0]);
      }

      assertThat(shapes)
          .containsExactly(
              new Shape(5, 32, 26, 26), // conv 1→32 3×3
              new Shape(5, 32, 26, 26), // ReLU
              new Shape(5, 64, 24, 24), // conv 32→64 3×3
              new Shape(5, 64, 24, 24), // ReLU
              new Shape(5, 64, 12, 12), // max-pool 2×2
              new Shape(5, 64, 12, 12), // dropout 0.25
              new Shape(5, MnistNet.FLATTENED), // flatten: 9216
              new Shape(5, 128), // linear
              new Shape(5, 128), // ReLU
              new Shape(5, 128), // dropout 0.5
              new Shape(5, MnistNet.CLASSES)); // linear: logits
    }
  }

  @Test
  void aForwardPassMapsImagesToTenLogits() {
    try (NDManager manager = NDManager.newBaseManager()) {
      SequentialBlock net = MnistNet.newBlock();
      net.initialize(manager, DataType.FLOAT32, new Shape(3, 1, 28, 28));
      var out =
          net.forward(
              new ParameterStore(manager, false),
              new ai.djl.ndarray.NDList(manager.randomNormal(new Shape(3, 1, 28, 28))),
              false);
      assertThat(out.singletonOrThrow().getShape()).isEqualTo(new Shape(3, 10));
    }
  }

  @Test
  void theParameterCountIsThatOfThePyTorchNet() {
    try (NDManager manager = NDManager.newBaseManager()) {
      SequentialBlock net = MnistNet.newBlock();
      net.initialize(manager, DataType.FLOAT32, new Shape(1, 1, 28, 28));
      long count = 0;
      for (var p : net.getParameters()) {
        count += p.getValue().getArray().size();
      }
      // conv1 32·9+32, conv2 64·32·9+64, fc1 9216·128+128, fc2 128·10+10
      assertThat(count).isEqualTo(320 + 18_496 + 1_179_776 + 1_290);
    }
  }
}
