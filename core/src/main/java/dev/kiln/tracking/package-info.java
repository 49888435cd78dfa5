/**
 * The experiment-tracking SPI: {@link dev.kiln.tracking.ExperimentTracker} receives immutable
 * records of plain values ({@link dev.kiln.tracking.RunStart}, {@link
 * dev.kiln.tracking.MetricsRecord}, {@link dev.kiln.tracking.Summary}, {@link
 * dev.kiln.tracking.HistogramRecord}, {@link dev.kiln.tracking.RunEnd}) on a thread of its own;
 * {@link dev.kiln.tracking.ExperimentTrackerProvider}s are found with {@link
 * java.util.ServiceLoader} and activated by name. The console and JSONL trackers are built in.
 */
package dev.kiln.tracking;
