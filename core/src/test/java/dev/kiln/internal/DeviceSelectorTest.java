package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DeviceSelectorTest {

  /** A machine with {@code n} GPUs of 24 GiB, 1 GiB in use. */
  static GpuProbe fakeGpus(int n) {
    return new GpuProbe() {
      @Override
      public int gpuCount() {
        return n;
      }

      @Override
      public String name(int index) {
        return "Fake RTX " + index;
      }

      @Override
      public Optional<long[]> memory(int index) {
        return Optional.of(new long[] {24L << 30, 1L << 30});
      }
    };
  }

  DeviceSelector.Selection select(int gpus, String spec) {
    return new DeviceSelector(fakeGpus(gpus))
        .select(DeviceSpec.parse(spec), "config", "PyTorch", "2.7.1", 8);
  }

  @Test
  void autoTakesEveryVisibleGpuAndReportsTheirMemory() {
    DeviceSelector.Selection s = select(2, "auto");
    assertThat(s.devices()).containsExactly(Device.gpu(0), Device.gpu(1));
    assertThat(s.report().reason()).contains("every visible CUDA GPU (2)");
    assertThat(s.report().devices().get(1).name()).isEqualTo("Fake RTX 1");
    assertThat(s.report().devices().get(1).totalMemoryBytes()).isEqualTo(24L << 30);
    assertThat(s.report().describe())
        .contains("gpu(1): Fake RTX 1 — memory 24.0 GiB total, 1.0 GiB used");
  }

  @Test
  void autoFallsBackToTheCpuAndSaysWhy() {
    DeviceSelector.Selection s = select(0, "auto");
    assertThat(s.devices()).containsExactly(Device.cpu());
    assertThat(s.report().reason()).contains("no CUDA GPU visible");
    assertThat(s.report().cpuThreads()).isEqualTo(8);
  }

  @Test
  void cpuIsHonouredEvenWithGpus() {
    assertThat(select(4, "cpu").devices()).containsExactly(Device.cpu());
  }

  @Test
  void firstNGpusAndExplicitListsPickExactlyThose() {
    assertThat(select(4, "gpu:2").devices()).containsExactly(Device.gpu(0), Device.gpu(1));
    assertThat(select(4, "gpu(3),gpu(1)").devices()).containsExactly(Device.gpu(3), Device.gpu(1));
    assertThat(select(4, "cuda:2").devices()).containsExactly(Device.gpu(2));
  }

  @Test
  void aGpuThatIsNotThereFailsListingTheDevicesThatAre() {
    assertThatThrownBy(() -> select(2, "gpu(2)"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gpu(0)..gpu(1)");
    assertThatThrownBy(() -> select(1, "gpu:2")).hasMessageContaining("gpu(0)..gpu(0)");
    assertThatThrownBy(() -> select(0, "gpu(0)")).hasMessageContaining("no visible CUDA GPU");
  }

  @Test
  void malformedSpecsAreRejectedNamingTheAcceptedForms() {
    assertThatThrownBy(() -> DeviceSpec.parse("tpu"))
        .hasMessageContaining("devices must be auto, cpu, gpu(i)");
    assertThatThrownBy(() -> DeviceSpec.parse("gpu(0),gpu(0)")).hasMessageContaining("twice");
    assertThatThrownBy(() -> DeviceSpec.parse("gpu:0")).hasMessageContaining("devices must be");
  }
}
