package dev.kiln.internal;

import ai.djl.Device;
import dev.kiln.tracking.DeviceReport;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Turns a {@link DeviceSpec} into DJL devices and a report of what was chosen and why. */
public final class DeviceSelector {

  /** The chosen devices, primary first, and the report. */
  public record Selection(List<Device> devices, DeviceReport report) {}

  private final GpuProbe probe;

  public DeviceSelector(GpuProbe probe) {
    this.probe = probe;
  }

  /**
   * Resolves the spec. Where it came from ({@code config}, {@code KILN_DEVICES}, default) goes into
   * the report's reason.
   *
   * @throws IllegalArgumentException when a requested GPU is not there, listing what is
   */
  public Selection select(
      DeviceSpec spec, String source, String engine, String engineVersion, int cpuThreads) {
    int gpus = probe.gpuCount();
    List<Integer> chosen = new ArrayList<>();
    String reason;
    switch (spec.kind()) {
      case AUTO -> {
        for (int i = 0; i < gpus; i++) {
          chosen.add(i);
        }
        reason =
            gpus == 0
                ? "auto (" + source + "): no CUDA GPU visible, training on the CPU"
                : "auto (" + source + "): every visible CUDA GPU (" + gpus + ")";
      }
      case CPU -> reason = "cpu requested (" + source + ")";
      case FIRST_N_GPUS -> {
        if (spec.firstN() > gpus) {
          throw missing(spec, gpus);
        }
        for (int i = 0; i < spec.firstN(); i++) {
          chosen.add(i);
        }
        reason = "first " + spec.firstN() + " GPU(s) requested (" + source + ")";
      }
      case GPUS -> {
        for (int i : spec.gpuIndices()) {
          if (i >= gpus) {
            throw missing(spec, gpus);
          }
          chosen.add(i);
        }
        reason = spec.text() + " requested (" + source + ")";
      }
      default -> throw new AssertionError(spec.kind());
    }
    List<Device> devices = new ArrayList<>();
    List<DeviceReport.Device> reported = new ArrayList<>();
    if (chosen.isEmpty()) {
      devices.add(Device.cpu());
      reported.add(
          new DeviceReport.Device(
              Device.cpu().toString(),
              "CPU, " + Runtime.getRuntime().availableProcessors() + " cores",
              physicalMemory(false),
              physicalMemory(true)));
    } else {
      for (int i : chosen) {
        Device d = Device.gpu(i);
        devices.add(d);
        Optional<long[]> memory = probe.memory(i);
        reported.add(
            new DeviceReport.Device(
                d.toString(),
                probe.name(i),
                memory.map(m -> m[0]).orElse(-1L),
                memory.map(m -> m[1]).orElse(-1L)));
      }
    }
    return new Selection(
        List.copyOf(devices),
        new DeviceReport(engine, engineVersion, reported, reason, cpuThreads));
  }

  private static long physicalMemory(boolean used) {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      long total = os.getTotalMemorySize();
      return used ? total - os.getFreeMemorySize() : total;
    }
    return -1;
  }

  private static IllegalArgumentException missing(DeviceSpec spec, int gpus) {
    String have =
        gpus == 0
            ? "this machine has no visible CUDA GPU (only cpu)"
            : "this machine has cpu and gpu(0).." + "gpu(" + (gpus - 1) + ")";
    return new IllegalArgumentException(
        "devices '"
            + spec.text()
            + "' asks for a GPU that is not there: "
            + have
            + " — use devices auto or cpu, or check CUDA_VISIBLE_DEVICES and that DJL found the"
            + " CUDA natives");
  }
}
