package dev.kiln.tracking;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The start of a run.
 *
 * @param runId stable id of the run; the same after every resume. Eight characters {@code
 *     [a-z0-9]}, so it is also a valid W&amp;B run id.
 * @param runName human-readable name, also the default run directory's name
 * @param runDirectory where the run keeps its files; trackers may write into subfolders
 * @param time when this process started the run
 * @param config the run's hyper-parameters and settings as plain values (strings, numbers,
 *     booleans, lists and maps of those)
 * @param devices the devices chosen for training, and why
 * @param resume present when the run continues from a checkpoint
 */
public record RunStart(
    String runId,
    String runName,
    Path runDirectory,
    Instant time,
    Map<String, Object> config,
    DeviceReport devices,
    Optional<ResumeInfo> resume) {

  public RunStart {
    Objects.requireNonNull(runId, "runId");
    Objects.requireNonNull(runName, "runName");
    Objects.requireNonNull(runDirectory, "runDirectory");
    Objects.requireNonNull(time, "time");
    config = Map.copyOf(config);
    Objects.requireNonNull(devices, "devices");
    Objects.requireNonNull(resume, "resume");
  }
}
