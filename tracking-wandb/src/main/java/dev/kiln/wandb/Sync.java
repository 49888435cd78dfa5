package dev.kiln.wandb;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.wandb.internal.Json;
import dev.kiln.wandb.internal.Sender;
import dev.kiln.wandb.internal.Spool;
import dev.kiln.wandb.internal.WandbApi;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import okhttp3.OkHttpClient;

/**
 * Uploads a run's spool: an offline run, or what an interrupted or killed run had not delivered.
 *
 * <pre>
 * java -cp &lt;classpath with kiln-tracking-wandb&gt; dev.kiln.wandb.Sync &lt;run dir&gt; [timeout seconds]
 * </pre>
 *
 * <p>Reads {@code WANDB_API_KEY} (or netrc) and {@code WANDB_BASE_URL} from the environment; the
 * run's id, project, entity and config come from the spool. It goes through the same code path as
 * the live tracker, starting at the position the server last acknowledged, so running it twice, or
 * after the run already delivered part of its records, sends nothing twice. It exits 0 when
 * everything was delivered, 1 otherwise, 2 on bad arguments.
 */
public final class Sync {
  private Sync() {}

  /** Command-line entry point; see the class documentation. */
  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args.length > 2) {
      System.err.println(
          "usage: java -cp <classpath> dev.kiln.wandb.Sync <run dir> [timeout seconds]");
      System.exit(2);
    }
    Duration timeout =
        args.length == 2 ? Duration.ofSeconds(Long.parseLong(args[1])) : Duration.ofMinutes(10);
    WandbConfig config = WandbConfig.builder().build();
    boolean ok = sync(Path.of(args[0]), config, new OkHttpClient(), timeout);
    System.out.println(ok ? "W&B sync complete: " + args[0] : "W&B sync incomplete: " + args[0]);
    System.exit(ok ? 0 : 1);
  }

  /**
   * Uploads the spool of {@code runDirectory} with {@code config}'s key and base URL.
   *
   * @return true when every spooled record is now acknowledged by the server
   * @throws IllegalStateException when there is no spool or no API key
   */
  public static boolean sync(
      Path runDirectory, WandbConfig config, OkHttpClient httpClient, Duration timeout)
      throws IOException, InterruptedException {
    Objects.requireNonNull(runDirectory, "runDirectory");
    Path dir = runDirectory.resolve("wandb");
    Path file = dir.resolve(Spool.FILE_NAME);
    if (!Files.isRegularFile(file)) {
      throw new IllegalStateException(
          "No W&B spool at " + file + ": pass the run directory (the one containing wandb/)");
    }
    String key =
        config
            .apiKey()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "No W&B API key for "
                            + config.baseUrl()
                            + ": set WANDB_API_KEY or add the host to "
                            + config.netrcFile()));
    long lastStart = lastStartRecord(file);
    if (lastStart < 0) {
      throw new IllegalStateException(
          "The spool " + file + " has no run start record; nothing to upload");
    }
    WandbApi api = new WandbApi(httpClient, config.baseUrl(), key);
    Sender sender =
        new Sender(
            dir,
            null,
            api,
            Sender.Settings.of(config),
            Clock.systemUTC(),
            null,
            lastStart,
            true,
            "run Sync again: java -cp <classpath> dev.kiln.wandb.Sync " + runDirectory);
    Thread t = new Thread(sender, "kiln-wandb-sync");
    t.setDaemon(true);
    t.start();
    if (!sender.awaitDone(timeout)) {
      sender.abort();
      sender.awaitDone(Duration.ofSeconds(5));
    }
    return sender.delivered();
  }

  private static long lastStartRecord(Path file) throws IOException {
    long last = -1;
    long size = Files.size(file);
    try (Spool.Reader r = new Spool.Reader(file)) {
      long pos = 0;
      while (pos < size) {
        List<Spool.Line> lines = r.read(pos, size, 10_000, Long.MAX_VALUE);
        if (lines.isEmpty()) {
          break;
        }
        for (Spool.Line l : lines) {
          if (l.text().startsWith("{\"type\":\"start\"")) {
            JsonNode n = Json.read(l.text());
            if ("start".equals(n.path("type").asText())) {
              last = l.start();
            }
          }
        }
        pos = lines.get(lines.size() - 1).end();
      }
    }
    return last;
  }
}
