package dev.kiln.optim;

import static dev.kiln.optim.Fixtures.INITIAL;
import static dev.kiln.optim.Fixtures.decaying;
import static dev.kiln.optim.Fixtures.gradient;
import static dev.kiln.optim.Fixtures.run;
import static dev.kiln.optim.Fixtures.toDoubles;
import static dev.kiln.optim.Fixtures.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AdamTest {

  private static final int STEPS = 6;

  /**
   * torch.optim.Adam / AdamW in doubles, written from the documented algorithm: L2 decay added to
   * the gradient, or decoupled decay of the weight.
   */
  static double[] reference(
      double b1, double b2, double eps, double wd, boolean decoupled, boolean ams, double[] lrs) {
    double[] p = toDoubles(INITIAL);
    double[] m = new double[p.length];
    double[] v = new double[p.length];
    double[] vMax = new double[p.length];
    for (int t = 1; t <= lrs.length; t++) {
      double lr = lrs[t - 1];
      double[] g = toDoubles(gradient(t));
      for (int i = 0; i < p.length; i++) {
        if (decoupled) {
          p[i] *= 1 - lr * wd;
        } else {
          g[i] += wd * p[i];
        }
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        vMax[i] = Math.max(vMax[i], v[i]);
        double mHat = m[i] / (1 - Math.pow(b1, t));
        double vHat = (ams ? vMax[i] : v[i]) / (1 - Math.pow(b2, t));
        p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
      }
    }
    return p;
  }

  @ParameterizedTest(name = "beta1 {0}, beta2 {1}, eps {2}, weightDecay {3}, amsgrad {4}")
  @CsvSource({
    "0.9, 0.999, 1e-8, 0, false",
    "0.8, 0.99, 1e-3, 0, false",
    "0.9, 0.999, 1e-8, 0.1, false",
    "0.9, 0.9, 1e-8, 0.05, true",
  })
  void updatesMatchTorchAdamFormulasOverSeveralSteps(
      double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
    double[] lrs = decaying(0.05, STEPS);
    Adam adam =
        Adam.builder()
            .learningRate(0.05)
            .beta1(beta1)
            .beta2(beta2)
            .eps(eps)
            .weightDecay(weightDecay)
            .amsgrad(amsgrad)
            .build();

    float[] actual = run(adam, STEPS, lrs);

    assertThat(actual)
        .containsExactly(
            toFloats(reference(beta1, beta2, eps, weightDecay, false, amsgrad, lrs)),
            within(2e-6f));
  }

  @Test
  void firstStepMovesEachWeightByAboutTheLearningRate() {
    float[] actual = run(Adam.builder().learningRate(0.01).build(), 1, new double[] {0.01});

    float[] g = gradient(1);
    for (int i = 0; i < actual.length; i++) {
      assertThat(INITIAL[i] - actual[i]).isCloseTo(0.01f * Math.signum(g[i]), within(1e-5f));
    }
  }

  @Test
  void defaultsAreTorchs() {
    assertThat(Adam.builder().build().hyperParameters())
        .containsExactly(
            entry("name", "adam"),
            entry("learningRate", 1e-3),
            entry("beta1", 0.9),
            entry("beta2", 0.999),
            entry("eps", 1e-8),
            entry("weightDecay", 0.0),
            entry("amsgrad", false));
  }

  @Test
  void toBuilderKeepsSettingsAndBuildsAnEqualOptimizer() {
    Adam adam = Adam.builder().learningRate(3e-4).beta2(0.98).amsgrad(true).build();

    assertThat(adam.toBuilder().build()).isEqualTo(adam).hasSameHashCodeAs(adam);
    assertThat(adam.toBuilder().beta1(0.5).build().beta2()).isEqualTo(0.98);
    assertThat(adam).isNotEqualTo(AdamW.builder().learningRate(3e-4).beta2(0.98).build());
  }

  @Test
  void invalidSettingsAreRejectedNamingTheField() {
    assertThatThrownBy(() -> Adam.builder().beta1(1.0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("beta1 must be in [0, 1): 1.0");
    assertThatThrownBy(() -> Adam.builder().beta2(-0.1))
        .hasMessage("beta2 must be in [0, 1): -0.1");
    assertThatThrownBy(() -> Adam.builder().eps(-1e-8))
        .hasMessage("eps must be finite and >= 0: -1.0E-8");
    assertThatThrownBy(() -> Adam.builder().weightDecay(Double.POSITIVE_INFINITY))
        .hasMessage("weightDecay must be finite and >= 0: Infinity");
  }
}
