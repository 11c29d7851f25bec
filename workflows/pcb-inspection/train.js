/**
 * PCB solder-paste inspection: 16 SPI measurements per pad → ok / error / pseudo-error.
 *
 * Trains one of the platform's built-in classifiers (`context.trainers`) on a seeded random
 * split and reports, besides accuracy on the held-out pads, what a line cares about most: the
 * share of real defects the model would let through as "ok" (escapes) and the share of false
 * calls it would still send to an inspector.
 */

/** Counts of (true class, predicted class) over the held-out pads. */
function confusion(truth, predicted, classes) {
  const counts = classes.map(() => classes.map(() => 0));
  truth.forEach((t, i) => {
    counts[t][predicted[i]] += 1;
  });
  return counts;
}

/** Share of row `from` of a confusion matrix that went to column `to` (0 when the row is empty). */
function share(counts, from, to) {
  const row = counts[from];
  const total = row.reduce((s, n) => s + n, 0);
  return total === 0 ? 0 : row[to] / total;
}

/** Trains the classifier the `trainer` parameter names on the training rows. */
function fit(trainers, params, x, y, classes, seed) {
  if (params.trainer === 'forest') return trainers.randomForest(x, y, { trees: params.trees, seed, classes });
  if (params.trainer === 'logistic') return trainers.logisticRegression(x, y, { classes });
  return trainers.mlp(x, y, { hiddenSizes: [params.hidden], epochs: params.epochs, seed, classes });
}

/** The workflow's training entry point (docs/workflows.md). */
export function train(dataset, params, context) {
  const { trainers, seed, log } = context;
  const k = dataset.classes.length;
  const rows = dataset.features.map((x, i) => ({ x, y: dataset.labels[i] }));
  const { train: fitRows, test } = trainers.splitTrainTest(rows, params.testFraction, seed);
  log(`${fitRows.length} pads to train on, ${test.length} held out; trainer ${params.trainer}`);
  const trained = fit(trainers, params, fitRows.map((r) => r.x), fitRows.map((r) => r.y), k, seed);
  const truth = test.map((r) => r.y);
  const predicted = trained.predict(test.map((r) => r.x)).labels;
  const counts = confusion(truth, predicted, dataset.classes);
  const ok = dataset.classes.indexOf('ok');
  const error = dataset.classes.indexOf('error');
  const pseudo = dataset.classes.indexOf('pseudo-error');
  const metrics = {
    ...trained.metrics,
    trainRows: fitRows.length,
    testRows: test.length,
    testAccuracy: predicted.filter((p, i) => p === truth[i]).length / Math.max(1, test.length),
    // A defect predicted "ok" escapes to the next process step: the costly mistake.
    errorEscapeRate: share(counts, error, ok),
    // A false call the model still flags keeps an inspector busy for nothing.
    pseudoErrorFlaggedRate: 1 - share(counts, pseudo, ok),
  };
  dataset.classes.forEach((name, c) => {
    metrics[`recall_${name}`] = share(counts, c, c);
  });
  log(`held-out accuracy ${metrics.testAccuracy.toFixed(3)}, defects escaping ${metrics.errorEscapeRate.toFixed(3)}`);
  return { model: trained.model, metrics };
}
