/**
 * Outlier detection: the detector that ejects failing endpoints and the layer that reports outcomes to it.
 * @module
 */
export * from './outlier-detection.js';
export * from './outlier-layer.js';
export * from './settings.js';
