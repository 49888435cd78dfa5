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

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AdadeltaTest {

  private static final int STEPS = 6;

  /** torch.optim.Adadelta in doubles, written from its documented algorithm. */
  private static double[] reference(double rho, double eps, double wd, double[] lrs) {
    double[] p = toDoubles(INITIAL);
    double[] squareAvg = new double[p.length];
    double[] accDelta = new double[p.length];
    for (int t = 1; t <= lrs.length; t++) {
      double[] g = toDoubles(gradient(t));
      for (int i = 0; i < p.length; i++) {
        g[i] += wd * p[i];
        squareAvg[i] = rho * squareAvg[i] + (1 - rho) * g[i] * g[i];
        double delta = Math.sqrt(accDelta[i] + eps) / Math.sqrt(squareAvg[i] + eps) * g[i];
        accDelta[i] = rho * accDelta[i] + (1 - rho) * delta * delta;
        p[i] -= lrs[t - 1] * delta;
      }
    }
    return p;
  }

  @ParameterizedTest(name = "lr {0}, rho {1}, eps {2}, weightDecay {3}")
  @CsvSource({"1.0, 0.9, 1e-6, 0", "0.5, 0.9, 1e-6, 0", "2.0, 0.95, 1e-4, 0.1"})
  void updatesMatchTorchAdadeltaFormulasIncludingTheLearningRateMultiplier(
      double lr, double rho, double eps, double weightDecay) {
    double[] lrs = decaying(lr, STEPS);
    Adadelta adadelta =
        Adadelta.builder().learningRate(lr).rho(rho).eps(eps).weightDecay(weightDecay).build();

    float[] actual = run(adadelta, STEPS, lrs);

    assertThat(actual)
        .containsExactly(toFloats(reference(rho, eps, weightDecay, lrs)), within(1e-6f));
  }

  @Test
  void theLearningRateScalesTheUpdate() {
    float[] half = run(Adadelta.builder().build(), 1, new double[] {0.5});
    float[] whole = run(Adadelta.builder().build(), 1, new double[] {1.0});

    for (int i = 0; i < INITIAL.length; i++) {
      assertThat(INITIAL[i] - whole[i]).isCloseTo(2 * (INITIAL[i] - half[i]), within(5e-7f));
    }
  }

  @Test
  void defaultsAreTorchsAndSettingsAreChecked() {
    Adadelta adadelta = Adadelta.builder().build();

    assertThat(adadelta.hyperParameters())
        .containsEntry("name", "adadelta")
        .containsEntry("learningRate", 1.0)
        .containsEntry("rho", 0.9)
        .containsEntry("eps", 1e-6)
        .containsEntry("weightDecay", 0.0);
    assertThat(adadelta.toBuilder().rho(0.5).build().rho()).isEqualTo(0.5);
    assertThatThrownBy(() -> Adadelta.builder().rho(1.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rho must be in [0, 1): 1.5");
  }
}
