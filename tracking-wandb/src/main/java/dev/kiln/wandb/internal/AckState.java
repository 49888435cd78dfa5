package dev.kiln.wandb.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the server has acknowledged, and the sender's state right after it: the spool position
 * delivered up to, the next line of each file, the last delivered step, runtime bookkeeping, the
 * summary and the history row still waiting for a higher step.
 *
 * <p>Stored in {@code <run dir>/wandb/ack.json}, replaced atomically (write, fsync, rename) after
 * each 2xx, so a restart resumes exactly where the server's acknowledgements end. Resending from
 * there is safe: line offsets are deterministic, and a line sent twice overwrites itself.
 */
public final class AckState {
  public static final String FILE_NAME = "ack.json";

  public long pos;
  public long historyLine;
  public long eventsLine;

  /** Step of the last history line placed in a post; -1 before the first. */
  public long lastStep = -1;

  public double runtimeBase;
  public double runtimeMax;
  public Map<String, Object> summary = new LinkedHashMap<>();

  /** The row for the newest step, sent when a higher step or the run's end arrives. */
  public long pendingStep = -1;

  public Map<String, Object> pendingRow;
  public boolean complete;

  public AckState copy() {
    AckState c = new AckState();
    c.pos = pos;
    c.historyLine = historyLine;
    c.eventsLine = eventsLine;
    c.lastStep = lastStep;
    c.runtimeBase = runtimeBase;
    c.runtimeMax = runtimeMax;
    c.summary = new LinkedHashMap<>(summary);
    c.pendingStep = pendingStep;
    c.pendingRow = pendingRow == null ? null : new LinkedHashMap<>(pendingRow);
    c.complete = complete;
    return c;
  }

  /** Loads the state in {@code dir}, or a fresh one. */
  @SuppressWarnings("unchecked")
  public static AckState load(Path dir) throws IOException {
    Path f = dir.resolve(FILE_NAME);
    AckState s = new AckState();
    if (!Files.isRegularFile(f)) {
      return s;
    }
    JsonNode n = Json.MAPPER.readTree(Files.readString(f, StandardCharsets.UTF_8));
    s.pos = n.path("pos").asLong();
    s.historyLine = n.path("historyLine").asLong();
    s.eventsLine = n.path("eventsLine").asLong();
    s.lastStep = n.path("lastStep").asLong(-1);
    s.runtimeBase = n.path("runtimeBase").asDouble();
    s.runtimeMax = n.path("runtimeMax").asDouble();
    if (n.hasNonNull("summary")) {
      s.summary = Json.MAPPER.convertValue(n.get("summary"), LinkedHashMap.class);
    }
    s.pendingStep = n.path("pendingStep").asLong(-1);
    if (n.hasNonNull("pendingRow")) {
      s.pendingRow = Json.MAPPER.convertValue(n.get("pendingRow"), LinkedHashMap.class);
    }
    s.complete = n.path("complete").asBoolean();
    return s;
  }

  /** Replaces the state file atomically and durably. */
  public void store(Path dir) throws IOException {
    ObjectNode n = Json.MAPPER.createObjectNode();
    n.put("pos", pos);
    n.put("historyLine", historyLine);
    n.put("eventsLine", eventsLine);
    n.put("lastStep", lastStep);
    n.put("runtimeBase", runtimeBase);
    n.put("runtimeMax", runtimeMax);
    n.set("summary", Json.MAPPER.valueToTree(summary));
    n.put("pendingStep", pendingStep);
    n.set("pendingRow", pendingRow == null ? null : Json.MAPPER.valueToTree(pendingRow));
    n.put("complete", complete);
    byte[] bytes = Json.write(n).getBytes(StandardCharsets.UTF_8);
    Path tmp = dir.resolve(FILE_NAME + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    Path target = dir.resolve(FILE_NAME);
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // Some platforms cannot sync a directory; the rename is still atomic.
    }
  }
}
