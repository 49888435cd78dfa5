package dev.kiln.examples;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.pooling.Pool;

/**
 * The course notes' CNN ({@code Net} in PyTorch's MNIST example) as a DJL block:
 *
 * <pre>
 * (N, 1, 28, 28)
 *   conv 1→32, 3×3, stride 1      → (N, 32, 26, 26), ReLU
 *   conv 32→64, 3×3, stride 1     → (N, 64, 24, 24), ReLU
 *   max-pool 2×2                  → (N, 64, 12, 12)
 *   dropout 0.25, flatten         → (N, 9216)
 *   linear 9216→128, ReLU, dropout 0.5
 *   linear 128→10                 → (N, 10) logits
 * </pre>
 *
 * <p>The block ends with logits, not log-probabilities: {@code Loss.softmaxCrossEntropyLoss()}
 * applies the log-softmax and the negative log-likelihood, which together are the notes' {@code
 * log_softmax} + {@code nll_loss}.
 */
public final class MnistNet {

  /** Number of classes, and of outputs. */
  public static final int CLASSES = 10;

  /** Width of the flattened feature map: 64 channels × 12 × 12. */
  public static final int FLATTENED = 64 * 12 * 12;

  private MnistNet() {}

  /** A new, uninitialized block; {@code Trainer.fit} initializes it from the first batch. */
  public static SequentialBlock newBlock() {
    return new SequentialBlock()
        .add(
            Conv2d.builder()
                .setFilters(32)
                .setKernelShape(new Shape(3, 3))
                .optStride(new Shape(1, 1))
                .build())
        .add(Activation::relu)
        .add(
            Conv2d.builder()
                .setFilters(64)
                .setKernelShape(new Shape(3, 3))
                .optStride(new Shape(1, 1))
                .build())
        .add(Activation::relu)
        .add(Pool.maxPool2dBlock(new Shape(2, 2)))
        .add(Dropout.builder().optRate(0.25f).build())
        .add(Blocks.batchFlattenBlock())
        .add(Linear.builder().setUnits(128).build())
        .add(Activation::relu)
        .add(Dropout.builder().optRate(0.5f).build())
        .add(Linear.builder().setUnits(CLASSES).build());
  }
}
