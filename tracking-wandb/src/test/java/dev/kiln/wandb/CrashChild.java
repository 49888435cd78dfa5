package dev.kiln.wandb;

import dev.kiln.tracking.ResumeInfo;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * A training process for {@link CrashRecoveryTest}: logs steps 1..10, waits for a line on stdin,
 * logs steps 11..20, then waits to be killed. Arguments: run dir, base URL, run id.
 */
public final class CrashChild {
  public static void main(String[] args) throws Exception {
    WandbConfig config = Fixtures.config(args[1]).build();
    WandbTracker tracker = WandbTracker.builder(config).build();
    tracker.runStarted(
        Fixtures.start(Path.of(args[0]), args[2], Optional.<ResumeInfo>empty(), Map.of("lr", 0.1)));
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (int s = 1; s <= 10; s++) {
      tracker.metrics(Fixtures.step(s, 1.0 / s));
    }
    tracker.flush();
    System.out.println("LOGGED 10");
    System.out.flush();
    in.readLine();
    for (int s = 11; s <= 20; s++) {
      tracker.metrics(Fixtures.step(s, 1.0 / s));
    }
    tracker.flush();
    System.out.println("LOGGED 20");
    System.out.flush();
    in.readLine();
  }
}
