package dev.kiln.tracking;

import java.util.List;
import java.util.Objects;

/**
 * What Kiln chose to train on and why.
 *
 * @param engine engine name, e.g. {@code "PyTorch"}
 * @param engineVersion engine version, e.g. {@code "2.7.1"}
 * @param devices the chosen devices, primary first
 * @param reason one sentence on why these devices, e.g. {@code "auto: no CUDA GPU visible"}
 * @param cpuThreads intra-op threads the engine uses on CPU
 */
public record DeviceReport(
    String engine, String engineVersion, List<Device> devices, String reason, int cpuThreads) {

  public DeviceReport {
    Objects.requireNonNull(engine, "engine");
    Objects.requireNonNull(engineVersion, "engineVersion");
    devices = List.copyOf(devices);
    Objects.requireNonNull(reason, "reason");
  }

  /**
   * One device.
   *
   * @param id DJL's name for it, e.g. {@code "cpu()"} or {@code "gpu(1)"}
   * @param name a human name, e.g. the GPU model, where known
   * @param totalMemoryBytes total memory in bytes, or -1 where unknown (CPU)
   * @param usedMemoryBytes memory in use in bytes, or -1 where unknown
   */
  public record Device(String id, String name, long totalMemoryBytes, long usedMemoryBytes) {}

  /** Multi-line text for logs and text summaries. */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    sb.append(engine).append(' ').append(engineVersion).append(" — ").append(reason);
    for (Device d : devices) {
      sb.append("\n  ").append(d.id()).append(": ").append(d.name());
      if (d.totalMemoryBytes() >= 0) {
        sb.append(String.format(" — memory %.1f GiB total", d.totalMemoryBytes() / 1073741824.0));
        if (d.usedMemoryBytes() >= 0) {
          sb.append(String.format(", %.1f GiB used", d.usedMemoryBytes() / 1073741824.0));
        }
      }
    }
    sb.append("\n  CPU threads: ").append(cpuThreads);
    return sb.toString();
  }
}
