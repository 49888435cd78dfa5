package dev.kiln.internal;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.translate.Batchifier;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;

/**
 * Yields the batches of one epoch in a fixed order, prepared by background workers ahead of the
 * training thread (or on the training thread when there is no executor).
 *
 * <p>Each batch gets its own {@link NDManager}, which the consumer closes with the batch.
 */
public final class BatchLoader implements AutoCloseable {

  /** One prepared batch. Close it to free its arrays. */
  public record LoadedBatch(NDManager manager, NDList data, NDList labels, int size, long index)
      implements AutoCloseable {
    @Override
    public void close() {
      manager.close();
    }
  }

  private final RandomAccessDataset dataset;
  private final long[] order;
  private final int batchSize;
  private final NDManager parent;
  private final ExecutorService executor;
  private final int prefetch;
  private final Batchifier batchifier = Batchifier.STACK;
  private final Deque<CompletableFuture<LoadedBatch>> inFlight = new ArrayDeque<>();
  private final long batches;
  private long nextToSubmit;
  private long nextToTake;

  /**
   * @param order dataset indices in the order this epoch visits them
   * @param firstBatch index of the first batch to yield (mid-epoch resume)
   * @param executor workers, or null to load on the calling thread
   */
  public BatchLoader(
      RandomAccessDataset dataset,
      long[] order,
      int batchSize,
      long firstBatch,
      NDManager parent,
      ExecutorService executor,
      int prefetch) {
    this.dataset = dataset;
    this.order = order;
    this.batchSize = batchSize;
    this.parent = parent;
    this.executor = executor;
    this.prefetch = prefetch;
    this.batches = batchCount(order.length, batchSize);
    this.nextToSubmit = firstBatch;
    this.nextToTake = firstBatch;
    fill();
  }

  /** Batches in an epoch of {@code size} samples; the last may be smaller. */
  public static long batchCount(long size, int batchSize) {
    return (size + batchSize - 1) / batchSize;
  }

  public long batches() {
    return batches;
  }

  public boolean hasNext() {
    return nextToTake < batches;
  }

  /** The next batch, waiting for a worker if it is not ready. */
  public LoadedBatch next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    LoadedBatch batch;
    if (executor == null) {
      batch = load(nextToTake);
      nextToSubmit = nextToTake + 1;
    } else {
      CompletableFuture<LoadedBatch> f = inFlight.removeFirst();
      try {
        batch = f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for a batch", e);
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof RuntimeException re) {
          throw re;
        }
        throw new IllegalStateException("loading a batch failed: " + cause, cause);
      }
    }
    nextToTake++;
    fill();
    return batch;
  }

  private void fill() {
    if (executor == null) {
      return;
    }
    while (inFlight.size() < prefetch && nextToSubmit < batches) {
      long b = nextToSubmit++;
      inFlight.addLast(CompletableFuture.supplyAsync(() -> load(b), executor));
    }
  }

  private LoadedBatch load(long b) {
    int from = Math.toIntExact(b * batchSize);
    int to = Math.min(order.length, from + batchSize);
    NDManager manager = parent.newSubManager();
    try {
      if (dataset instanceof dev.kiln.data.BatchSource source) {
        long[] indices = java.util.Arrays.copyOfRange(order, from, to);
        NDList[] batch = source.batch(manager, indices);
        return new LoadedBatch(manager, batch[0], batch[1], to - from, b);
      }
      NDList[] data = new NDList[to - from];
      NDList[] labels = new NDList[to - from];
      for (int i = from; i < to; i++) {
        Record r;
        try {
          r = dataset.get(manager, order[i]);
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(
              "reading sample " + order[i] + " of the dataset failed: " + e.getMessage(), e);
        }
        data[i - from] = r.getData();
        labels[i - from] = r.getLabels();
      }
      NDList d = batchifier.batchify(data);
      NDList l = batchifier.batchify(labels);
      return new LoadedBatch(manager, d, l, to - from, b);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  @Override
  public void close() {
    while (!inFlight.isEmpty()) {
      CompletableFuture<LoadedBatch> f = inFlight.removeFirst();
      f.thenAccept(LoadedBatch::close);
    }
  }
}
