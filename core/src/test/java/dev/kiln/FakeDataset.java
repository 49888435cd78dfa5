package dev.kiln;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import java.util.SplittableRandom;

/**
 * A small synthetic classification set: {@code classes} Gaussian blobs in {@code features}
 * dimensions. Deterministic for a given size. Can be made slow or poisoned for tests.
 */
final class FakeDataset extends RandomAccessDataset {
  final int size;
  final int features;
  final int classes;
  final float[][] x;
  final int[] y;
  final long sleepMillisPerSample;
  final int nanAt;

  private FakeDataset(
      int size, int features, int classes, long sleepMillisPerSample, int nanAt, int labelOffset) {
    super(new Builder().setSampling(1, false));
    this.size = size;
    this.features = features;
    this.classes = classes;
    this.sleepMillisPerSample = sleepMillisPerSample;
    this.nanAt = nanAt;
    SplittableRandom r = new SplittableRandom(42);
    x = new float[size][features];
    y = new int[size];
    for (int i = 0; i < size; i++) {
      int c = r.nextInt(classes);
      y[i] = c + labelOffset;
      for (int f = 0; f < features; f++) {
        x[i][f] = (float) ((f % classes == c ? 2.0 : 0.0) + r.nextGaussian() * 0.7);
      }
    }
  }

  static FakeDataset of(int size) {
    return new FakeDataset(size, 8, 4, 0, -1, 0);
  }

  static FakeDataset slow(int size, long sleepMillisPerSample) {
    return new FakeDataset(size, 8, 4, sleepMillisPerSample, -1, 0);
  }

  static FakeDataset withNanAt(int size, int index) {
    return new FakeDataset(size, 8, 4, 0, index, 0);
  }

  static FakeDataset withLabelOffset(int size, int offset) {
    return new FakeDataset(size, 8, 4, 0, -1, offset);
  }

  static FakeDataset withFeatures(int size, int features) {
    return new FakeDataset(size, features, 4, 0, -1, 0);
  }

  @Override
  public Record get(NDManager manager, long index) {
    if (sleepMillisPerSample > 0) {
      try {
        Thread.sleep(sleepMillisPerSample); // simulates an expensive decode, not test timing
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    float[] features = x[(int) index].clone();
    if (index == nanAt) {
      features[0] = Float.NaN;
    }
    return new Record(
        new NDList(manager.create(features)), new NDList(manager.create((float) y[(int) index])));
  }

  @Override
  protected long availableSize() {
    return size;
  }

  @Override
  public void prepare(Progress progress) {}

  private static final class Builder extends BaseBuilder<Builder> {
    @Override
    protected Builder self() {
      return this;
    }
  }
}
