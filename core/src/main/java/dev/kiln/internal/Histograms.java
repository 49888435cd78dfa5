package dev.kiln.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.kiln.tracking.HistogramRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Turns parameter arrays into plain-number histograms for trackers. */
final class Histograms {
  private Histograms() {}

  static final int BUCKETS = 30;

  static HistogramRecord of(
      Map<String, Parameter> parameters,
      Device device,
      ParameterStore store,
      List<HistogramRecord.Histogram> gradients,
      long step,
      Instant time) {
    List<HistogramRecord.Histogram> out = new ArrayList<>();
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      NDArray w = store.getValue(e.getValue(), device, true);
      out.add(of("weights/" + e.getKey(), w.toType(DataType.FLOAT32, false).toFloatArray()));
    }
    out.addAll(gradients);
    return new HistogramRecord(step, time, out);
  }

  /** Histograms of the gradients about to be applied, tagged {@code gradients/<path>}. */
  static List<HistogramRecord.Histogram> gradients(Map<String, NDArray> gradients) {
    List<HistogramRecord.Histogram> out = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : gradients.entrySet()) {
      out.add(
          of(
              "gradients/" + e.getKey(),
              e.getValue().toType(DataType.FLOAT32, false).toFloatArray()));
    }
    return out;
  }

  static HistogramRecord.Histogram of(String tag, float[] values) {
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    double sumSq = 0;
    for (float f : values) {
      min = Math.min(min, f);
      max = Math.max(max, f);
      sum += f;
      sumSq += (double) f * f;
    }
    if (values.length == 0) {
      min = 0;
      max = 0;
    }
    double width = (max - min) / BUCKETS;
    double[] limits = new double[BUCKETS];
    double[] counts = new double[BUCKETS];
    for (int i = 0; i < BUCKETS; i++) {
      limits[i] = i == BUCKETS - 1 ? max : min + width * (i + 1);
    }
    for (float f : values) {
      int b = width == 0 ? BUCKETS - 1 : (int) Math.min(BUCKETS - 1, Math.floor((f - min) / width));
      counts[b]++;
    }
    return new HistogramRecord.Histogram(tag, min, max, values.length, sum, sumSq, limits, counts);
  }
}
