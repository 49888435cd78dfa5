package dev.kiln.data.internal;

import java.io.PrintStream;
import java.time.Clock;
import java.util.Locale;

/**
 * Progress of one extraction, measured in archive bytes read: a bar redrawn in place (at most five
 * times a second) on a terminal, otherwise a line at every 10% and at least every 30 s, so a
 * notebook cell or a log file gets a readable history rather than carriage returns.
 */
final class StagingProgress {
  private static final long REDRAW_MILLIS = 200;
  private static final long LINE_MILLIS = 30_000;

  private final PrintStream out;
  private final boolean terminal;
  private final Clock clock;
  private final String label;
  private final long total;
  private final long startMillis;
  private long lastMillis;
  private int lastDecile;

  StagingProgress(PrintStream out, boolean terminal, Clock clock, String label, long total) {
    this.out = out;
    this.terminal = terminal;
    this.clock = clock;
    this.label = label;
    this.total = Math.max(1, total);
    this.startMillis = clock.millis();
    this.lastMillis = startMillis;
  }

  void update(long done, long files) {
    if (out == null) {
      return;
    }
    long now = clock.millis();
    if (terminal) {
      if (now - lastMillis < REDRAW_MILLIS) {
        return;
      }
      lastMillis = now;
      draw(done, files, now, false);
    } else {
      int decile = (int) Math.min(10, 10 * done / total);
      if (decile > lastDecile && decile < 10 || now - lastMillis >= LINE_MILLIS) {
        lastDecile = Math.max(lastDecile, decile);
        lastMillis = now;
        line(done, files, now);
      }
    }
  }

  void done(long done, long files) {
    if (out == null) {
      return;
    }
    long now = clock.millis();
    if (terminal) {
      draw(done, files, now, true);
    } else {
      line(done, files, now);
    }
  }

  private void draw(long done, long files, long now, boolean last) {
    int width = 30;
    int filled = (int) Math.min(width, width * done / total);
    String bar =
        "=".repeat(filled)
            + (filled < width ? ">" : "")
            + " ".repeat(Math.max(0, width - filled - 1));
    out.print(
        String.format(
            Locale.ROOT,
            "\rStaging %s [%s] %3d%% %s/%s, %,d files, %s ETA %s   ",
            label,
            bar,
            percent(done),
            mb(done),
            mb(total),
            files,
            rate(done, now),
            eta(done, now)));
    if (last) {
      out.println();
    }
    out.flush();
  }

  private void line(long done, long files, long now) {
    out.println(
        String.format(
            Locale.ROOT,
            "Staging %s: %d%% (%s of %s, %,d files, %s, ETA %s)",
            label,
            percent(done),
            mb(done),
            mb(total),
            files,
            rate(done, now),
            eta(done, now)));
    out.flush();
  }

  private int percent(long done) {
    return (int) Math.min(100, 100 * done / total);
  }

  private String rate(long done, long now) {
    double seconds = (now - startMillis) / 1000.0;
    return seconds <= 0 ? "? MB/s" : String.format(Locale.ROOT, "%.1f MB/s", done / 1e6 / seconds);
  }

  private String eta(long done, long now) {
    long elapsed = now - startMillis;
    if (done <= 0 || elapsed <= 0) {
      return "?";
    }
    long s = Math.round((total - done) * (elapsed / 1000.0) / done);
    return s >= 3600
        ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }

  static String mb(long bytes) {
    return bytes >= 10_000_000_000L
        ? String.format(Locale.ROOT, "%.1f GB", bytes / 1e9)
        : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
  }
}
