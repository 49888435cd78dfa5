package dev.kiln.tracking;

import dev.kiln.testing.ExperimentTrackerContractTest;
import java.nio.file.Path;

/** Core's JSONL tracker passes the kit every tracker must pass. */
class JsonlTrackerContractTest extends ExperimentTrackerContractTest {
  @Override
  protected ExperimentTracker newTracker(Path runDirectory) {
    return new JsonlTracker(runDirectory);
  }
}
