package dev.kiln;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

class EngineSmokeTest {
  @Test
  void pytorchEngineLoadsOfflineFromTheCpuNatives() {
    try (NDManager manager = NDManager.newBaseManager()) {
      assertThat(Engine.getInstance().getEngineName()).isEqualTo("PyTorch");
      assertThat(manager.create(new float[] {1, 2, 3}).sum().getFloat()).isEqualTo(6f);
    }
  }
}
