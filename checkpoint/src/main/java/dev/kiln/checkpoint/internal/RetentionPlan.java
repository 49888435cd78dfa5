package dev.kiln.checkpoint.internal;

import dev.kiln.checkpoint.Retention;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides which committed checkpoints a {@link Retention} keeps. Pure: reads nothing, deletes
 * nothing.
 */
public final class RetentionPlan {

  /**
   * One committed checkpoint as the planner sees it.
   *
   * @param metrics its metrics, or an empty map if its manifest could not be read
   */
  public record Entry(CheckpointName name, Map<String, Double> metrics) {}

  private RetentionPlan() {}

  /**
   * Returns the names to keep.
   *
   * @param entries all committed checkpoints, in any order
   * @param justSaved the checkpoint just committed; always kept
   */
  public static Set<CheckpointName> keep(
      List<Entry> entries, Retention retention, CheckpointName justSaved) {
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparing(Entry::name));
    Set<CheckpointName> keep = new LinkedHashSet<>();
    keep.add(justSaved);
    for (int i = Math.max(0, sorted.size() - retention.keepLast()); i < sorted.size(); i++) {
      keep.add(sorted.get(i).name());
    }
    if (retention.keepBest() > 0) {
      String metric = retention.bestMetric().orElseThrow();
      Comparator<Entry> better = Comparator.comparingDouble(e -> e.metrics().get(metric));
      if (retention.bestDirection() == Retention.Direction.MAX) {
        better = better.reversed();
      }
      // Stable sort over oldest-first input: on ties the older checkpoint ranks first.
      sorted.stream()
          .filter(e -> e.metrics().containsKey(metric) && Double.isFinite(e.metrics().get(metric)))
          .sorted(better)
          .limit(retention.keepBest())
          .forEach(e -> keep.add(e.name()));
    }
    if (retention.keepEveryEpochs() > 0) {
      Map<Integer, CheckpointName> newestOfEpoch = new HashMap<>();
      for (Entry e : sorted) {
        int epoch = e.name().epoch();
        if (epoch > 0 && epoch % retention.keepEveryEpochs() == 0) {
          newestOfEpoch.put(epoch, e.name());
        }
      }
      keep.addAll(newestOfEpoch.values());
    }
    return keep;
  }
}
