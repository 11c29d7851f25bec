/**
 * Worker activity from IMUs on both hands. The platform hands over windows (manifest `window`):
 * each row is `size` consecutive frames of the 12 channels, flattened time-major, labelled by its
 * last frame; the model takes the same flattened window.
 *
 * Windows overlap (hop < size) and come in time order, so a random split would put half of
 * each test window into training. The held-out part is therefore the last `testFraction` of
 * the recording, with the windows that overlap the training part's end left out of both.
 */

/** Trains the classifier the `trainer` parameter names. */
function fit(trainers, params, x, y, classes, seed) {
  if (params.trainer === 'mlp') return trainers.mlp(x, y, { hiddenSizes: [32], epochs: params.epochs, seed, classes });
  return trainers.randomForest(x, y, { trees: params.trees, maxDepth: params.maxDepth, seed, classes });
}

/**
 * How many frames the second window starts after the first: the smallest shift at which the
 * first window's frames line up with the second's (the window size when they share none).
 */
function hopFrames(rows, frameWidth, windowFrames) {
  const [a, b] = rows;
  if (a === undefined || b === undefined) return windowFrames;
  for (let shift = 1; shift < windowFrames; shift++) {
    const offset = shift * frameWidth;
    let same = true;
    for (let j = 0; same && j + offset < a.length; j++) same = a[j + offset] === b[j];
    if (same) return shift;
  }
  return windowFrames;
}

/** The workflow's training entry point (docs/workflows.md). */
export function train(dataset, params, context) {
  const { trainers, seed, log } = context;
  const frameWidth = dataset.featureNames.length;
  const windowFrames = Math.max(1, Math.round((dataset.features[0]?.length ?? frameWidth) / frameWidth));
  const n = dataset.features.length;
  const testStart = Math.floor(n * (1 - params.testFraction));
  // Windows that share frames with the last training window stay out of the test part.
  const gap = Math.max(0, Math.ceil(windowFrames / hopFrames(dataset.features, frameWidth, windowFrames)) - 1);
  const trainEnd = Math.max(1, testStart - gap);
  const x = dataset.features.slice(0, trainEnd);
  const y = dataset.labels.slice(0, trainEnd);
  const testX = dataset.features.slice(testStart);
  const testY = dataset.labels.slice(testStart);
  log(`${x.length} windows of ${windowFrames} frames to train on, ${testX.length} later ones held out; trainer ${params.trainer}`);
  const trained = fit(trainers, params, x, y, dataset.classes.length, seed);
  const predicted = testX.length === 0 ? [] : trained.predict(testX).labels;
  const testAccuracy = predicted.filter((p, i) => p === testY[i]).length / Math.max(1, testX.length);
  log(`held-out accuracy ${testAccuracy.toFixed(3)}`);
  return { model: trained.model, metrics: { ...trained.metrics, trainRows: x.length, testRows: testX.length, windowFrames, testAccuracy } };
}
