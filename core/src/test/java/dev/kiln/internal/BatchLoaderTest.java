package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatchLoaderTest {

  /** Sample i is the scalar i; records which threads loaded samples. */
  static final class CountingDataset extends RandomAccessDataset {
    final int size;
    final List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());

    CountingDataset(int size) {
      super(new B().setSampling(1, false));
      this.size = size;
    }

    @Override
    public Record get(NDManager manager, long index) {
      threads.add(Thread.currentThread().getName());
      return new Record(new NDList(manager.create((float) index)), new NDList(manager.create(0f)));
    }

    @Override
    protected long availableSize() {
      return size;
    }

    @Override
    public void prepare(Progress progress) {}

    static final class B extends BaseBuilder<B> {
      @Override
      protected B self() {
        return this;
      }
    }
  }

  static List<float[]> drain(BatchLoader loader) {
    List<float[]> out = new ArrayList<>();
    while (loader.hasNext()) {
      try (BatchLoader.LoadedBatch b = loader.next()) {
        out.add(b.data().head().toFloatArray());
      }
    }
    return out;
  }

  @Test
  void backgroundWorkersYieldTheSameBatchesInTheSameOrderAsTheTrainingThread() {
    CountingDataset ds = new CountingDataset(10);
    long[] order = {9, 3, 5, 0, 1, 2, 8, 7, 6, 4};
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(3, r -> new Thread(r, "worker-" + n.incrementAndGet()));
    try (NDManager m = NDManager.newBaseManager();
        BatchLoader inline = new BatchLoader(ds, order, 4, 0, m, null, 1);
        BatchLoader background = new BatchLoader(ds, order, 4, 0, m, pool, 4)) {
      List<float[]> a = drain(inline);
      List<float[]> b = drain(background);
      assertThat(a).hasSize(3);
      assertThat(a.get(0)).containsExactly(9, 3, 5, 0);
      assertThat(a.get(2)).containsExactly(6, 4);
      for (int i = 0; i < a.size(); i++) {
        assertThat(b.get(i)).containsExactly(a.get(i));
      }
      assertThat(ds.threads).anyMatch(t -> t.startsWith("worker-"));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void startingAtABatchOffsetSkipsExactlyTheBatchesBeforeIt() {
    CountingDataset ds = new CountingDataset(10);
    long[] order = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    try (NDManager m = NDManager.newBaseManager();
        BatchLoader loader = new BatchLoader(ds, order, 3, 2, m, null, 1)) {
      List<float[]> batches = drain(loader);
      assertThat(batches).hasSize(2);
      assertThat(batches.get(0)).containsExactly(6, 7, 8);
      assertThat(batches.get(1)).containsExactly(9);
    }
  }
}
