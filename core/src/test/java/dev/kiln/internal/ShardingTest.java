package dev.kiln.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShardingTest {
  @Test
  void shardSizesDifferByAtMostOneAndAddUpToTheBatch() {
    assertThat(Sharding.sizes(64, 3)).containsExactly(22, 21, 21);
    assertThat(Sharding.sizes(4, 4)).containsExactly(1, 1, 1, 1);
    assertThat(Sharding.sizes(2, 4))
        .as("devices without samples are left out")
        .containsExactly(1, 1);
  }

  @Test
  void splittingKeepsSamplesAndLabelsTogetherInOrder() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDList data = new NDList(m.arange(10f).reshape(5, 2));
      NDList labels = new NDList(m.arange(5f));
      List<NDList[]> shards = Sharding.split(data, labels, 2);
      assertThat(shards).hasSize(2);
      assertThat(shards.get(0)[0].head().toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5);
      assertThat(shards.get(0)[1].head().toFloatArray()).containsExactly(0, 1, 2);
      assertThat(shards.get(1)[0].head().toFloatArray()).containsExactly(6, 7, 8, 9);
      assertThat(shards.get(1)[1].head().toFloatArray()).containsExactly(3, 4);
    }
  }
}
