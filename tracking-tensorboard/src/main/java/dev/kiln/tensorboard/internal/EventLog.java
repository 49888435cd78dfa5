package dev.kiln.tensorboard.internal;

import dev.kiln.tracking.HistogramRecord.Histogram;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TensorBoard event file, appended to through an in-memory buffer.
 *
 * <p>Every record is framed completely in the buffer; the buffer is written when it fills ({@code
 * bufferSize}) and on {@link #flush()}, which also forces the file to disk. A crash can therefore
 * only lose the unflushed tail, and can at worst leave one truncated record at the end of the file,
 * which TensorBoard skips quietly.
 *
 * <p>The file is {@code events.out.tfevents.<10-digit unix seconds>.<host>.<pid>.<counter>}; its
 * name is chosen to sort after every event file already in the directory, because TensorBoard reads
 * a run's files in name order and never goes back to an earlier one. If a write fails, the file is
 * abandoned and the next flush starts a new one, so a torn record never hides later ones.
 *
 * <p>Not thread-safe.
 */
public final class EventLog implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(EventLog.class);
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final String WRITER = "dev.kiln.tensorboard";
  private static final String PREFIX = "events.out.tfevents.";

  /** A failing disk may hold back at most this many buffers before records are dropped. */
  private static final int MAX_BUFFERS_HELD = 64;

  /** hparams session status, from the hparams plugin's {@code api.proto}. */
  public static final int STATUS_SUCCESS = EventEncoder.STATUS_SUCCESS;

  public static final int STATUS_FAILURE = EventEncoder.STATUS_FAILURE;
  public static final int STATUS_RUNNING = EventEncoder.STATUS_RUNNING;

  private final Path directory;
  private final Clock clock;
  private final int bufferSize;
  private final Records records = new Records();
  private final ProtoOutput buffer;
  private FileChannel channel;
  private Path file;
  private long droppedBytes;

  private EventLog(Path directory, Clock clock, int bufferSize) {
    this.directory = directory;
    this.clock = clock;
    this.bufferSize = bufferSize;
    this.buffer = new ProtoOutput(bufferSize + 4096);
  }

  /**
   * Creates the directory if needed and a new event file in it, starting with the {@code
   * file_version} record, written and forced at once.
   *
   * @throws IOException if the directory or the file cannot be created or written
   */
  public static EventLog open(Path directory, Clock clock, int bufferSize) throws IOException {
    EventLog eventLog = new EventLog(directory, clock, bufferSize);
    eventLog.openNewFile();
    return eventLog;
  }

  /** The file being written, or the last one if a write failed. */
  public Path file() {
    return file;
  }

  /** Bytes not yet written to the file. */
  public int bufferedBytes() {
    return buffer.size();
  }

  // ---- records ----

  /** Scalars as legacy {@code simple_value}s (float32) in one event. */
  public void scalars(double wallTime, long step, byte[][] tags, float[] values, int count)
      throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.scalars(buffer, wallTime, step, tags, values, count);
    endRecord(start);
  }

  /** A {@code SessionLog START}: TensorBoard purges earlier points at steps {@code >= step}. */
  public void sessionStart(double wallTime, long step) throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.sessionStart(buffer, wallTime, step);
    endRecord(start);
  }

  /** A markdown text summary. */
  public void text(double wallTime, long step, String tag, String markdown) throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.text(buffer, wallTime, step, tag, markdown);
    endRecord(start);
  }

  /** Histograms, {@code tags} parallel to {@code histograms}. */
  public void histograms(double wallTime, long step, List<Histogram> histograms, List<String> tags)
      throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.histograms(buffer, wallTime, step, histograms, tags);
    endRecord(start);
  }

  /** The hparams session start; values are numbers, booleans or strings. */
  public void hparamsSessionStart(
      double wallTime, long step, Map<String, Object> hparams, String group, double startTime)
      throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.hparamsSessionStart(buffer, wallTime, step, hparams, group, startTime);
    endRecord(start);
  }

  /** The hparams session end with a {@code STATUS_*} value. */
  public void hparamsSessionEnd(double wallTime, long step, int status, double endTime)
      throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.hparamsSessionEnd(buffer, wallTime, step, status, endTime);
    endRecord(start);
  }

  /** The hparams experiment: every hyper-parameter and the metric tags to show as columns. */
  public void hparamsExperiment(
      double wallTime,
      long step,
      Map<String, Object> hparams,
      List<String> metricTags,
      double timeCreated)
      throws IOException {
    int start = Records.begin(buffer);
    EventEncoder.hparamsExperiment(buffer, wallTime, step, hparams, metricTags, timeCreated);
    endRecord(start);
  }

  private void endRecord(int start) throws IOException {
    records.end(buffer, start);
    if (buffer.size() >= bufferSize) {
      write(false);
    }
  }

  // ---- output ----

  /** Writes the buffer and forces the file to disk. */
  public void flush() throws IOException {
    write(true);
  }

  private void write(boolean force) throws IOException {
    if (channel == null) {
      openNewFile();
    }
    try {
      if (buffer.size() > 0) {
        ByteBuffer bytes = ByteBuffer.wrap(buffer.array(), 0, buffer.size());
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
        buffer.reset();
      }
      if (force) {
        channel.force(false);
      }
    } catch (IOException e) {
      abandonFile();
      if (buffer.size() > MAX_BUFFERS_HELD * (long) bufferSize) {
        droppedBytes += buffer.size();
        log.warn(
            "Dropped {} bytes of TensorBoard records ({} in total) that could not be written to {}",
            buffer.size(),
            droppedBytes,
            directory);
        buffer.reset();
      }
      throw new IOException(
          "cannot write TensorBoard logs to "
              + file
              + ": "
              + describe(e)
              + " — free space or fix permissions; the next flush starts a new file",
          e);
    }
  }

  private void abandonFile() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // the file is being abandoned because it failed
    }
    channel = null;
  }

  private void openNewFile() throws IOException {
    Files.createDirectories(directory);
    Path next = directory.resolve(nextFileName());
    FileChannel opened =
        FileChannel.open(next, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    try {
      ProtoOutput first = new ProtoOutput(64);
      int start = Records.begin(first);
      EventEncoder.fileVersion(first, clock.millis() / 1000.0, WRITER);
      records.end(first, start);
      ByteBuffer bytes = ByteBuffer.wrap(first.array(), 0, first.size());
      while (bytes.hasRemaining()) {
        opened.write(bytes);
      }
      opened.force(true);
    } catch (IOException e) {
      opened.close();
      throw e;
    }
    channel = opened;
    file = next;
    log.debug("Writing TensorBoard events to {}", file);
  }

  private String nextFileName() throws IOException {
    long seconds = Math.max(0, clock.millis() / 1000);
    String suffix =
        "." + hostName() + "." + ProcessHandle.current().pid() + "." + COUNTER.getAndIncrement();
    String latest = latestEventFile();
    String name = String.format("%s%010d%s", PREFIX, seconds, suffix);
    if (latest != null && name.compareTo(latest) <= 0) {
      // Another host or a clock behind the earlier writer's: sort after it anyway.
      long latestSeconds = parseSeconds(latest);
      if (latestSeconds >= 0) {
        name = String.format("%s%010d%s", PREFIX, Math.max(seconds, latestSeconds + 1), suffix);
      }
      if (name.compareTo(latest) <= 0) {
        log.warn(
            "TensorBoard may ignore {}: it sorts before the existing event file {} in {}",
            name,
            latest,
            directory);
      }
    }
    return name;
  }

  private String latestEventFile() throws IOException {
    String latest = null;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
      for (Path p : files) {
        String n = p.getFileName().toString();
        if (n.contains("tfevents") && (latest == null || n.compareTo(latest) > 0)) {
          latest = n;
        }
      }
    }
    return latest;
  }

  private static long parseSeconds(String name) {
    if (!name.startsWith(PREFIX) || name.length() < PREFIX.length() + 10) {
      return -1;
    }
    try {
      return Long.parseLong(name.substring(PREFIX.length(), PREFIX.length() + 10));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static volatile String hostName;

  static String hostName() {
    String h = hostName;
    if (h == null) {
      h = System.getenv("HOSTNAME");
      if (h == null || h.isBlank()) {
        try {
          h = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
          h = "localhost";
        }
      }
      h = h.replaceAll("[^A-Za-z0-9._-]", "_");
      hostName = h;
    }
    return h;
  }

  /** "{@code AccessDeniedException: /path}"-style text for error messages. */
  public static String describe(Throwable e) {
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /** Flushes and closes the file. Idempotent. */
  @Override
  public void close() throws IOException {
    if (channel == null && buffer.size() == 0) {
      return;
    }
    try {
      flush();
    } finally {
      if (channel != null) {
        channel.close();
        channel = null;
      }
    }
  }
}
