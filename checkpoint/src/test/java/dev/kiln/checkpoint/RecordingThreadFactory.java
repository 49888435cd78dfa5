package dev.kiln.checkpoint;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/** Makes daemon threads, remembers each, and lets a test wait until one of them has finished. */
final class RecordingThreadFactory implements ThreadFactory {

  private final List<Thread> created = new ArrayList<>();
  private CountDownLatch finished = new CountDownLatch(1);

  @Override
  public synchronized Thread newThread(Runnable runnable) {
    CountDownLatch latch = finished;
    Thread thread =
        new Thread(
            () -> {
              try {
                runnable.run();
              } finally {
                latch.countDown();
              }
            },
            "recorded-" + created.size());
    thread.setDaemon(true);
    created.add(thread);
    return thread;
  }

  synchronized List<Thread> created() {
    return List.copyOf(created);
  }

  /** Forgets earlier threads, so {@link #awaitAThreadFinished} waits for one made from now on. */
  synchronized void reset() {
    created.clear();
    finished = new CountDownLatch(1);
  }

  /** True if a thread made since the last {@link #reset()} finished within {@code seconds}. */
  boolean awaitAThreadFinished(long seconds) throws InterruptedException {
    CountDownLatch latch;
    synchronized (this) {
      latch = finished;
    }
    return latch.await(seconds, TimeUnit.SECONDS);
  }
}
