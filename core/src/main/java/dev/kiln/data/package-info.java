/**
 * Data for training: {@link dev.kiln.data.MnistDataset} reads MNIST-format files, {@link
 * dev.kiln.data.BatchSource} lets a dataset build whole batches, and {@link
 * dev.kiln.data.DatasetStaging} unpacks a dataset archive from slow storage to local disk once.
 */
package dev.kiln.data;
