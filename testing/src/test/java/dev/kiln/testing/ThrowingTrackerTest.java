package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ThrowingTrackerTest {

  @Test
  void everyMethodThrowsAnInjectedFailureNamingTheCall() {
    ThrowingTracker tracker = ThrowingTracker.onEvery();

    assertThatThrownBy(() -> tracker.runStarted(SampleEvents.runStart(Path.of("run"))))
        .isInstanceOf(ThrowingTracker.InjectedFailure.class)
        .hasMessage("injected failure in runStarted, call 1");
    assertThatThrownBy(() -> tracker.metrics(SampleEvents.stepMetrics(1, 1, 1)))
        .hasMessage("injected failure in metrics, call 1");
    assertThatThrownBy(() -> tracker.metrics(SampleEvents.stepMetrics(2, 1, 1)))
        .hasMessage("injected failure in metrics, call 2");
    assertThatThrownBy(() -> tracker.summary(SampleEvents.summary(2))).isNotNull();
    assertThatThrownBy(() -> tracker.histograms(SampleEvents.histograms(2))).isNotNull();
    assertThatThrownBy(tracker::flush).isNotNull();
    assertThatThrownBy(() -> tracker.stopRequested(SampleEvents.stopRequest(2, 1)))
        .hasMessage("injected failure in stopRequested, call 1");
    assertThatThrownBy(() -> tracker.runEnded(SampleEvents.interrupted(2, 1))).isNotNull();
    assertThatThrownBy(tracker::close).hasMessage("injected failure in close, call 1");

    assertThat(tracker.name()).isEqualTo("throwing");
    assertThat(tracker.totalCalls()).isEqualTo(9);
    assertThat(tracker.failuresThrown()).isEqualTo(9);
  }

  @Test
  void onlyTheChosenMethodsThrowButAllCallsAreCounted() throws Exception {
    ThrowingTracker tracker = ThrowingTracker.on(TrackerMethod.METRICS, TrackerMethod.CLOSE);

    tracker.runStarted(SampleEvents.runStart(Path.of("run")));
    assertThatThrownBy(() -> tracker.metrics(SampleEvents.stepMetrics(1, 1, 1)))
        .isInstanceOf(ThrowingTracker.InjectedFailure.class);
    tracker.flush();
    tracker.runEnded(SampleEvents.finished(1, 1));
    assertThatThrownBy(tracker::close).isInstanceOf(ThrowingTracker.InjectedFailure.class);

    assertThat(tracker.calls(TrackerMethod.METRICS)).isEqualTo(1);
    assertThat(tracker.calls(TrackerMethod.RUN_ENDED)).isEqualTo(1);
    assertThat(tracker.calls(TrackerMethod.SUMMARY)).isZero();
    assertThat(tracker.totalCalls()).isEqualTo(5);
    assertThat(tracker.failuresThrown()).isEqualTo(2);
  }

  @Test
  void theFailureCanBeAnyThrowableIncludingErrors() {
    ThrowingTracker linkage =
        ThrowingTracker.on(TrackerMethod.FLUSH).failure(NoClassDefFoundError::new);
    ThrowingTracker runtime =
        ThrowingTracker.on(TrackerMethod.FLUSH).failure(IllegalStateException::new);

    assertThatThrownBy(linkage::flush)
        .isInstanceOf(NoClassDefFoundError.class)
        .hasMessage("injected failure in flush, call 1");
    assertThatThrownBy(runtime::flush).isInstanceOf(IllegalStateException.class);
    assertThatCode(linkage::close).doesNotThrowAnyException();
  }
}
