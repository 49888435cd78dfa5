package dev.kiln.wandb.internal;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Samples system metrics with the official client's key names: {@code system.cpu}, {@code
 * system.memory_percent}, {@code system.proc.memory.rssMB}, and per CUDA GPU (via {@code
 * nvidia-smi}, when it is on the PATH) {@code system.gpu.<i>.gpu}, {@code
 * system.gpu.<i>.memoryAllocated} and {@code system.gpu.<i>.memoryAllocatedBytes}.
 */
public final class SystemStats {
  private final String nvidiaSmi;

  public SystemStats() {
    this(findOnPath("nvidia-smi"));
  }

  /**
   * @param nvidiaSmi the nvidia-smi executable, or null to skip GPUs
   */
  public SystemStats(String nvidiaSmi) {
    this.nvidiaSmi = nvidiaSmi;
  }

  public Map<String, Object> sample() {
    Map<String, Object> out = new LinkedHashMap<>();
    java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean) {
      com.sun.management.OperatingSystemMXBean sun = (com.sun.management.OperatingSystemMXBean) os;
      double cpu = sun.getCpuLoad();
      if (cpu >= 0) {
        out.put("system.cpu", round(cpu * 100));
      }
      long total = sun.getTotalMemorySize();
      long free = sun.getFreeMemorySize();
      if (total > 0) {
        out.put("system.memory_percent", round(100.0 * (total - free) / total));
      }
    }
    long rss = rssBytes();
    if (rss > 0) {
      out.put("system.proc.memory.rssMB", round(rss / 1048576.0));
    }
    if (nvidiaSmi != null) {
      gpus(out);
    }
    return out;
  }

  private void gpus(Map<String, Object> out) {
    try {
      Process p =
          new ProcessBuilder(
                  nvidiaSmi,
                  "--query-gpu=index,utilization.gpu,memory.used,memory.total",
                  "--format=csv,noheader,nounits")
              .redirectErrorStream(true)
              .start();
      List<String> lines;
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        lines = r.lines().toList();
      }
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return;
      }
      for (String line : lines) {
        String[] f = line.split(",");
        if (f.length < 4) {
          continue;
        }
        try {
          String i = f[0].trim();
          double util = Double.parseDouble(f[1].trim());
          double usedMiB = Double.parseDouble(f[2].trim());
          double totalMiB = Double.parseDouble(f[3].trim());
          out.put("system.gpu." + i + ".gpu", util);
          out.put("system.gpu." + i + ".memoryAllocated", round(100 * usedMiB / totalMiB));
          out.put("system.gpu." + i + ".memoryAllocatedBytes", usedMiB * 1048576.0);
        } catch (NumberFormatException ignored) {
          // "[N/A]" fields on some boards
        }
      }
    } catch (IOException e) {
      // nvidia-smi vanished or failed: skip GPUs this time
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static long rssBytes() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmRSS:")) {
          String[] f = l.trim().split("\\s+");
          return Long.parseLong(f[1]) * 1024;
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // not Linux
    }
    return -1;
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  static String findOnPath(String exe) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String d : path.split(File.pathSeparator)) {
      Path p = Path.of(d, exe);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    return null;
  }
}
