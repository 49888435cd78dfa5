package dev.kiln.internal;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of one epoch: a bar redrawn in place on a terminal, or a plain line every 10% of the
 * epoch (at most every 30 s of wall time apart is not guaranteed) when output goes to a file.
 */
public final class ProgressBar {
  private final PrintStream out;
  private final boolean terminal;
  private final int epoch;
  private final int epochs;
  private final long total;
  private long lastDrawNanos;
  private int lastDecile = -1;

  public ProgressBar(PrintStream out, boolean terminal, int epoch, int epochs, long total) {
    this.out = out;
    this.terminal = terminal;
    this.epoch = epoch;
    this.epochs = epochs;
    this.total = total;
  }

  /** Reports batch {@code done} of the epoch (1-based), with running loss and throughput. */
  public void update(
      long done, double runningLoss, double samplesPerSec, double etaSeconds, long nowNanos) {
    if (terminal) {
      if (done != total && nowNanos - lastDrawNanos < 100_000_000L) {
        return;
      }
      lastDrawNanos = nowNanos;
      int width = 30;
      int filled = (int) (width * done / Math.max(1, total));
      String bar =
          "=".repeat(filled)
              + (filled < width ? ">" : "")
              + " ".repeat(Math.max(0, width - filled - 1));
      out.print(
          String.format(
              Locale.ROOT,
              "\rEpoch %d/%d [%s] %d/%d loss %.4f %.0f samples/s ETA %s   ",
              epoch,
              epochs,
              bar,
              done,
              total,
              runningLoss,
              samplesPerSec,
              eta(etaSeconds)));
      if (done == total) {
        out.println();
      }
      out.flush();
    } else {
      int decile = (int) (10 * done / Math.max(1, total));
      if (decile == lastDecile || (decile == 0 && done != total)) {
        return;
      }
      lastDecile = decile;
      out.println(
          String.format(
              Locale.ROOT,
              "Epoch %d/%d: batch %d/%d (%d%%) loss %.4f %.0f samples/s ETA %s",
              epoch,
              epochs,
              done,
              total,
              100 * done / Math.max(1, total),
              runningLoss,
              samplesPerSec,
              eta(etaSeconds)));
      out.flush();
    }
  }

  static String eta(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "?";
    }
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
