package dev.kiln.tracking;

import java.time.Instant;
import java.util.List;

/**
 * Histograms of tensors (parameters, gradients) at one step, as plain numbers.
 *
 * @param step global step
 * @param time when they were taken
 * @param histograms one per tensor
 */
public record HistogramRecord(long step, Instant time, List<Histogram> histograms) {
  public HistogramRecord {
    histograms = List.copyOf(histograms);
  }

  /**
   * One tensor's histogram, in TensorBoard's form: bucket {@code i} counts values in {@code
   * (bucketLimits[i-1], bucketLimits[i]]}.
   */
  public record Histogram(
      String tag,
      double min,
      double max,
      double count,
      double sum,
      double sumSquares,
      double[] bucketLimits,
      double[] bucketCounts) {
    public Histogram {
      bucketLimits = bucketLimits.clone();
      bucketCounts = bucketCounts.clone();
    }

    @Override
    public double[] bucketLimits() {
      return bucketLimits.clone();
    }

    @Override
    public double[] bucketCounts() {
      return bucketCounts.clone();
    }
  }
}
