package dev.kiln.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CheckpointRequestTest {

  @Test
  void negativeEpochOrStepIsRejectedNamingTheField() {
    assertThatThrownBy(() -> CheckpointRequest.of(-1, 0)).hasMessage("epoch < 0: -1");
    assertThatThrownBy(() -> CheckpointRequest.of(0, -5)).hasMessage("step < 0: -5");
  }

  @Test
  void metadataWithNonJsonValueIsRejectedNamingTheKeyAndTheFix() {
    assertThatThrownBy(() -> CheckpointRequest.builder(0, 1).metadata("rng", new Random()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "metadata.rng has unsupported type java.util.Random;"
                + " use String, Number, Boolean, null, List or Map values");
    assertThatThrownBy(
            () ->
                CheckpointRequest.builder(0, 1)
                    .metadata("nested", Map.of("list", List.of(1, new Object())))
                    .build())
        .hasMessageStartingWith("metadata.nested.list[1] has unsupported type java.lang.Object");
    assertThatThrownBy(() -> CheckpointRequest.builder(0, 1).metadata("lr", Double.NaN).build())
        .hasMessageContaining("metadata.lr is NaN, which JSON cannot hold");
  }

  @Test
  void metadataIsCopiedSoLaterChangesDoNotLeakIn() {
    List<Object> list = new ArrayList<>(List.of(1));
    Map<String, Object> map = new HashMap<>();
    map.put("list", list);
    map.put("none", null);

    CheckpointRequest request = CheckpointRequest.builder(0, 1).metadata(map).build();
    list.add(2);

    assertThat(request.metadata()).containsEntry("list", List.of(1)).containsEntry("none", null);
    assertThatThrownBy(() -> request.metadata().put("x", 1))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void toBuilderKeepsEverything() {
    CheckpointRequest request =
        CheckpointRequest.builder(2, 30).metric("loss", 0.5).metadata("k", "v").build();

    assertThat(request.toBuilder().build()).isEqualTo(request);
    assertThat(request.toBuilder().metric("acc", 0.9).build().metrics())
        .containsKeys("loss", "acc");
  }
}
