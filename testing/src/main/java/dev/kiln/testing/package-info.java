/** Test kit for tracker implementations: recording and throwing trackers, and the contract test. */
package dev.kiln.testing;
