package dev.kiln.tracking;

import dev.kiln.testing.ExperimentTrackerContractTest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Core's console tracker passes the kit every tracker must pass. */
class ConsoleTrackerContractTest extends ExperimentTrackerContractTest {
  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    return new ConsoleTracker(
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }
}
