package dev.kiln.internal;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.util.cuda.CudaUtils;
import java.lang.management.MemoryUsage;
import java.util.Optional;

/** What the machine has: GPU count, names and memory. Replaceable in tests. */
public interface GpuProbe {

  int gpuCount();

  /** A human name for GPU {@code index}, e.g. its model with compute capability. */
  String name(int index);

  /** Total and used memory in bytes of GPU {@code index}, if known. */
  Optional<long[]> memory(int index);

  /** The probe backed by DJL's engine and CUDA utilities. */
  static GpuProbe system() {
    return new GpuProbe() {
      @Override
      public int gpuCount() {
        return Engine.getInstance().getGpuCount();
      }

      @Override
      public String name(int index) {
        try {
          return "CUDA GPU "
              + index
              + " (compute capability "
              + CudaUtils.getComputeCapability(index)
              + ")";
        } catch (RuntimeException | LinkageError e) {
          return "CUDA GPU " + index;
        }
      }

      @Override
      public Optional<long[]> memory(int index) {
        try {
          MemoryUsage usage = CudaUtils.getGpuMemory(Device.gpu(index));
          return Optional.of(new long[] {usage.getMax(), usage.getCommitted()});
        } catch (RuntimeException | LinkageError e) {
          return Optional.empty();
        }
      }
    };
  }
}
