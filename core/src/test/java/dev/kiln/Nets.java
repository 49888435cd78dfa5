package dev.kiln;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** Small models for trainer tests. */
final class Nets {
  private Nets() {}

  static SequentialBlock mlp(boolean dropout) {
    SequentialBlock b =
        new SequentialBlock()
            .add(Linear.builder().setUnits(16).build())
            .add(Activation.reluBlock());
    if (dropout) {
      b.add(Dropout.builder().optRate(0.5f).build());
    }
    return b.add(Linear.builder().setUnits(4).build());
  }

  /** Wraps a block and sleeps in every training forward, to make compute the bottleneck. */
  static Block slow(Block inner, long millis) {
    return new SlowBlock(inner, millis);
  }

  private static final class SlowBlock extends AbstractBlock {
    private final Block inner;
    private final long millis;

    SlowBlock(Block inner, long millis) {
      this.inner = addChildBlock("inner", inner);
      this.millis = millis;
    }

    @Override
    protected NDList forwardInternal(
        ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
      if (training) {
        try {
          Thread.sleep(millis); // simulates an expensive model, not test timing
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return inner.forward(store, inputs, training, params);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
      return inner.getOutputShapes(inputShapes);
    }

    @Override
    protected void initializeChildBlocks(
        ai.djl.ndarray.NDManager manager, DataType dataType, Shape... inputShapes) {
      inner.initialize(manager, dataType, inputShapes);
    }
  }
}
