package dev.kiln.optim;

import static dev.kiln.optim.Fixtures.decaying;
import static dev.kiln.optim.Fixtures.run;
import static dev.kiln.optim.Fixtures.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AdamWTest {

  private static final int STEPS = 6;

  @ParameterizedTest(name = "weightDecay {0}, amsgrad {1}")
  @CsvSource({"0.01, false", "0.2, false", "0, false", "0.1, true"})
  void updatesMatchTorchAdamWFormulasWithDecayScaledByTheStepsLearningRate(
      double weightDecay, boolean amsgrad) {
    double[] lrs = decaying(0.05, STEPS);
    Adam adamw =
        AdamW.builder().learningRate(0.05).weightDecay(weightDecay).amsgrad(amsgrad).build();

    float[] actual = run(adamw, STEPS, lrs);

    assertThat(actual)
        .containsExactly(
            toFloats(AdamTest.reference(0.9, 0.999, 1e-8, weightDecay, true, amsgrad, lrs)),
            within(2e-6f));
  }

  @Test
  void decoupledDecayDiffersFromAdamsL2Decay() {
    double[] lrs = decaying(0.05, STEPS);

    float[] adamw = run(AdamW.builder().learningRate(0.05).weightDecay(0.2).build(), STEPS, lrs);
    float[] adam = run(Adam.builder().learningRate(0.05).weightDecay(0.2).build(), STEPS, lrs);

    assertThat(adamw).isNotEqualTo(adam);
  }

  @Test
  void defaultsAreTorchsWithWeightDecayOneHundredth() {
    Adam adamw = AdamW.builder().build();

    assertThat(adamw.name()).isEqualTo("adamw");
    assertThat(adamw.learningRate()).isEqualTo(1e-3);
    assertThat(adamw.weightDecay()).isEqualTo(0.01);
    assertThat(adamw.beta1()).isEqualTo(0.9);
    assertThat(adamw.beta2()).isEqualTo(0.999);
    assertThat(adamw.eps()).isEqualTo(1e-8);
    assertThat(adamw.amsgrad()).isFalse();
    assertThat(adamw.toBuilder().build()).isEqualTo(adamw);
  }
}
