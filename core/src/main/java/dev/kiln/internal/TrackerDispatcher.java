package dev.kiln.internal;

import dev.kiln.tracking.ExperimentTracker;
import dev.kiln.tracking.HistogramRecord;
import dev.kiln.tracking.MetricsRecord;
import dev.kiln.tracking.RunEnd;
import dev.kiln.tracking.RunStart;
import dev.kiln.tracking.StopRequest;
import dev.kiln.tracking.Summary;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers events to trackers so that no tracker can stop or stall training: each tracker gets its
 * own thread and queue; the training thread only enqueues. A tracker that throws is logged once
 * with the cause and its failures counted; one that falls behind loses its oldest step records
 * (counted), never run start, epoch records, a stop request or run end.
 */
public final class TrackerDispatcher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(TrackerDispatcher.class);

  /** Step records a tracker may have queued before the oldest are dropped. */
  static final int MAX_QUEUED_STEP_RECORDS = 4096;

  private final List<Worker> workers = new ArrayList<>();

  public TrackerDispatcher(List<ExperimentTracker> trackers, ThreadFactory threadFactory) {
    for (ExperimentTracker tracker : trackers) {
      Worker w = new Worker(tracker);
      Thread t = threadFactory.newThread(w);
      t.setName("kiln-tracker-" + safeName(tracker));
      t.setDaemon(true);
      w.thread = t;
      workers.add(w);
      t.start();
    }
  }

  /**
   * Sends run start to every tracker and waits up to {@code timeout} for them to accept it.
   *
   * @return tracker name to the failure of those that failed to start (they get no more events but
   *     run end and close)
   */
  public Map<String, Throwable> start(RunStart start, Duration timeout) {
    for (Worker w : workers) {
      w.enqueue(new Event.Start(start));
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    Map<String, Throwable> failed = new LinkedHashMap<>();
    for (Worker w : workers) {
      try {
        long left = deadline - System.nanoTime();
        if (!w.started.await(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          log.warn(
              "Tracker '{}' did not start within {} s; training goes on, its events queue up",
              safeName(w.tracker),
              timeout.toSeconds());
        } else if (w.startFailure != null) {
          failed.put(safeName(w.tracker), w.startFailure);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return failed;
  }

  public void metrics(MetricsRecord record) {
    for (Worker w : workers) {
      w.enqueue(new Event.Metrics(record));
    }
  }

  public void summary(Summary summary) {
    for (Worker w : workers) {
      w.enqueue(new Event.SummaryEvent(summary));
    }
  }

  public void histograms(HistogramRecord record) {
    for (Worker w : workers) {
      w.enqueue(new Event.Histograms(record));
    }
  }

  public void flush() {
    for (Worker w : workers) {
      w.enqueue(Event.Flush.INSTANCE);
    }
  }

  public void stopRequested(StopRequest request) {
    for (Worker w : workers) {
      w.enqueue(new Event.Stopping(request));
    }
  }

  /**
   * Sends run end then close to every tracker and waits up to {@code timeout} in total for all of
   * them; a tracker still busy then is left to finish on its daemon thread and reported.
   */
  public void end(RunEnd end, Duration timeout) {
    for (Worker w : workers) {
      w.enqueue(new Event.End(end));
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Worker w : workers) {
      try {
        long left = deadline - System.nanoTime();
        if (!w.done.await(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          log.warn(
              "Tracker '{}' did not finish within {} s after the run ended; it may have lost its"
                  + " last events — see its own logs",
              safeName(w.tracker),
              timeout.toSeconds());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
  }

  /** Failures so far, by tracker name. */
  public Map<String, Long> failures() {
    Map<String, Long> m = new LinkedHashMap<>();
    for (Worker w : workers) {
      m.put(safeName(w.tracker), w.failures.get());
    }
    return m;
  }

  /** Step records dropped so far because a tracker fell behind, by tracker name. */
  public Map<String, Long> dropped() {
    Map<String, Long> m = new LinkedHashMap<>();
    for (Worker w : workers) {
      m.put(safeName(w.tracker), w.dropped.get());
    }
    return m;
  }

  @Override
  public void close() {
    // end() is the orderly path; close() only makes sure no worker waits forever for events.
    for (Worker w : workers) {
      w.enqueue(Event.Stop.INSTANCE);
    }
  }

  static String safeName(ExperimentTracker tracker) {
    try {
      String name = tracker.name();
      return name == null ? tracker.getClass().getSimpleName() : name;
    } catch (RuntimeException e) {
      return tracker.getClass().getSimpleName();
    }
  }

  private sealed interface Event {
    record Start(RunStart start) implements Event {}

    record Metrics(MetricsRecord record) implements Event {}

    record SummaryEvent(Summary summary) implements Event {}

    record Histograms(HistogramRecord record) implements Event {}

    record Stopping(StopRequest request) implements Event {}

    enum Flush implements Event {
      INSTANCE
    }

    record End(RunEnd end) implements Event {}

    enum Stop implements Event {
      INSTANCE
    }
  }

  private static final class Worker implements Runnable {
    private final ExperimentTracker tracker;
    private final LinkedBlockingDeque<Event> queue = new LinkedBlockingDeque<>();
    private final AtomicInteger queuedSteps = new AtomicInteger();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final CountDownLatch started = new CountDownLatch(1);
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile Throwable startFailure;
    private boolean alive = true;
    private boolean ended;
    Thread thread;

    Worker(ExperimentTracker tracker) {
      this.tracker = tracker;
    }

    void enqueue(Event e) {
      if (isStep(e) && queuedSteps.incrementAndGet() > MAX_QUEUED_STEP_RECORDS) {
        dropOldestStep();
      }
      queue.add(e);
    }

    private void dropOldestStep() {
      for (Iterator<Event> it = queue.iterator(); it.hasNext(); ) {
        Event e = it.next();
        if (isStep(e)) {
          it.remove();
          queuedSteps.decrementAndGet();
          if (dropped.getAndIncrement() == 0) {
            log.warn(
                "Tracker '{}' falls behind; dropping its oldest step records (epoch records, run"
                    + " start and end are kept)",
                safeName(tracker));
          }
          return;
        }
      }
    }

    private static boolean isStep(Event e) {
      return e instanceof Event.Metrics m && m.record().kind() == MetricsRecord.Kind.STEP;
    }

    @Override
    public void run() {
      try {
        while (true) {
          Event e = queue.take();
          if (isStep(e)) {
            queuedSteps.decrementAndGet();
          }
          if (e instanceof Event.Stop) {
            if (!ended) {
              closeTracker();
            }
            return;
          }
          deliver(e);
          if (e instanceof Event.End) {
            return;
          }
        }
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      } finally {
        started.countDown();
        done.countDown();
      }
    }

    private void deliver(Event e) {
      if (e instanceof Event.Start s) {
        try {
          tracker.runStarted(s.start());
        } catch (Throwable t) {
          startFailure = t;
          alive = false;
          fail("start", t);
        } finally {
          started.countDown();
        }
        return;
      }
      if (e instanceof Event.End end) {
        ended = true;
        if (alive) {
          call("runEnded", () -> tracker.runEnded(end.end()));
        }
        closeTracker();
        return;
      }
      if (!alive) {
        return;
      }
      if (e instanceof Event.Metrics m) {
        call("metrics", () -> tracker.metrics(m.record()));
      } else if (e instanceof Event.SummaryEvent s) {
        call("summary", () -> tracker.summary(s.summary()));
      } else if (e instanceof Event.Histograms h) {
        call("histograms", () -> tracker.histograms(h.record()));
      } else if (e instanceof Event.Flush) {
        call("flush", tracker::flush);
      } else if (e instanceof Event.Stopping s) {
        call("stopRequested", () -> tracker.stopRequested(s.request()));
      }
    }

    private void closeTracker() {
      call("close", tracker::close);
    }

    private interface Call {
      void run() throws Exception;
    }

    private void call(String what, Call c) {
      try {
        c.run();
      } catch (Throwable t) {
        fail(what, t);
      }
    }

    private void fail(String what, Throwable t) {
      if (failures.getAndIncrement() == 0) {
        log.warn(
            "Tracker '{}' failed in {} ({}); training goes on without waiting for it. Later"
                + " failures of this tracker are counted, not logged.",
            safeName(tracker),
            what,
            t.toString(),
            t);
      } else {
        log.debug("Tracker '{}' failed again in {}", safeName(tracker), what, t);
      }
    }
  }
}
