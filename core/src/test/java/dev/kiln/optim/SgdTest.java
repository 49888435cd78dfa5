package dev.kiln.optim;

import static dev.kiln.optim.Fixtures.INITIAL;
import static dev.kiln.optim.Fixtures.decaying;
import static dev.kiln.optim.Fixtures.gradient;
import static dev.kiln.optim.Fixtures.run;
import static dev.kiln.optim.Fixtures.toDoubles;
import static dev.kiln.optim.Fixtures.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SgdTest {

  private static final int STEPS = 5;

  /** torch.optim.SGD's update in doubles, written from its documented algorithm. */
  private static double[] reference(
      double momentum, double dampening, boolean nesterov, double weightDecay, double[] lrs) {
    double[] p = toDoubles(INITIAL);
    double[] b = null;
    for (int k = 1; k <= STEPS; k++) {
      double[] g = toDoubles(gradient(k));
      for (int i = 0; i < p.length; i++) {
        g[i] += weightDecay * p[i];
      }
      double[] d = g;
      if (momentum != 0) {
        if (b == null) {
          b = g.clone();
        } else {
          for (int i = 0; i < p.length; i++) {
            b[i] = momentum * b[i] + (1 - dampening) * g[i];
          }
        }
        d = new double[p.length];
        for (int i = 0; i < p.length; i++) {
          d[i] = nesterov ? g[i] + momentum * b[i] : b[i];
        }
      }
      for (int i = 0; i < p.length; i++) {
        p[i] -= lrs[k - 1] * d[i];
      }
    }
    return p;
  }

  static Stream<Arguments> variants() {
    return Stream.of(
        Arguments.of(0.0, 0.0, false, 0.0),
        Arguments.of(0.0, 0.0, false, 0.1),
        Arguments.of(0.9, 0.0, false, 0.0),
        Arguments.of(0.9, 0.5, false, 0.0),
        Arguments.of(0.9, 0.0, true, 0.0),
        Arguments.of(0.8, 0.0, true, 0.05));
  }

  @ParameterizedTest(name = "momentum {0}, dampening {1}, nesterov {2}, weightDecay {3}")
  @MethodSource("variants")
  void updatesMatchTorchSgdFormulasOverSeveralSteps(
      double momentum, double dampening, boolean nesterov, double weightDecay) {
    double[] lrs = decaying(0.1, STEPS);
    Sgd sgd =
        Sgd.builder()
            .learningRate(0.1)
            .momentum(momentum)
            .dampening(dampening)
            .nesterov(nesterov)
            .weightDecay(weightDecay)
            .build();

    float[] actual = run(sgd, STEPS, lrs);

    assertThat(actual)
        .containsExactly(
            toFloats(reference(momentum, dampening, nesterov, weightDecay, lrs)), within(2e-6f));
  }

  @Test
  void defaultsAreTorchs() {
    Sgd sgd = Sgd.builder().build();

    assertThat(sgd.hyperParameters())
        .containsEntry("name", "sgd")
        .containsEntry("learningRate", 1e-3)
        .containsEntry("momentum", 0.0)
        .containsEntry("dampening", 0.0)
        .containsEntry("nesterov", false)
        .containsEntry("weightDecay", 0.0);
  }

  @Test
  void toBuilderKeepsSettingsAndBuildsAnEqualOptimizer() {
    Sgd sgd = Sgd.builder().learningRate(0.3).momentum(0.9).nesterov(true).build();

    assertThat(sgd.toBuilder().build()).isEqualTo(sgd).hasSameHashCodeAs(sgd);
    assertThat(sgd.toBuilder().learningRate(0.1).build().momentum()).isEqualTo(0.9);
  }

  @Test
  void nesterovWithoutMomentumOrWithDampeningIsRejected() {
    assertThatThrownBy(() -> Sgd.builder().nesterov(true).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nesterov")
        .hasMessageContaining("momentum 0.0");
    assertThatThrownBy(() -> Sgd.builder().momentum(0.9).dampening(0.1).nesterov(true).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dampening 0.1");
  }

  @Test
  void invalidSettingsAreRejectedNamingTheField() {
    assertThatThrownBy(() -> Sgd.builder().learningRate(-1))
        .hasMessage("learningRate must be finite and >= 0: -1.0");
    assertThatThrownBy(() -> Sgd.builder().momentum(Double.NaN))
        .hasMessage("momentum must be finite and >= 0: NaN");
    assertThatThrownBy(() -> Sgd.builder().dampening(1.5))
        .hasMessage("dampening must be in [0, 1]: 1.5");
  }
}
