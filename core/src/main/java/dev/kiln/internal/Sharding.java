package dev.kiln.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a batch along its first axis into shards (one or more per device), as evenly as possible.
 */
public final class Sharding {
  private Sharding() {}

  /**
   * Shard sizes for {@code n} samples in {@code k} shards: the first {@code n % k} shards get one
   * more; when {@code n < k} the trailing shards are left out.
   */
  public static long[] sizes(long n, int k) {
    int used = (int) Math.min(n, k);
    long[] sizes = new long[used];
    for (int i = 0; i < used; i++) {
      sizes[i] = n / k + (i < n % k ? 1 : 0);
    }
    return sizes;
  }

  /** Returns {data, labels} per shard, in order; fewer than {@code k} shards when n < k. */
  public static List<NDList[]> split(NDList data, NDList labels, int k) {
    if (k == 1) {
      return List.<NDList[]>of(new NDList[] {data, labels});
    }
    long n = data.head().getShape().get(0);
    long[] sizes = sizes(n, k);
    long[] cuts = new long[sizes.length - 1];
    long acc = 0;
    for (int i = 0; i < cuts.length; i++) {
      acc += sizes[i];
      cuts[i] = acc;
    }
    List<NDList[]> shards = new ArrayList<>();
    for (int i = 0; i < sizes.length; i++) {
      shards.add(new NDList[] {new NDList(), new NDList()});
    }
    splitInto(data, cuts, shards, 0);
    splitInto(labels, cuts, shards, 1);
    return shards;
  }

  private static void splitInto(NDList list, long[] cuts, List<NDList[]> shards, int slot) {
    for (NDArray array : list) {
      NDList parts = cuts.length == 0 ? new NDList(array) : array.split(cuts, 0);
      for (int i = 0; i < shards.size(); i++) {
        shards.get(i)[slot].add(parts.get(i));
      }
    }
  }
}
