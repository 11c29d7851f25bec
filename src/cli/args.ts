/**
 * Parsers of command-line option values, shared by every command: a bad value is commander's
 * InvalidArgumentError, which it reports with the option's name.
 */
import { InvalidArgumentError } from 'commander';

/** A whole number >= `min`. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return n;
  };
}

/** A whole number >= 0. */
export const nonNegativeInt = wholeNumber(0);

/** A finite number > 0. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

/** Numbers >= 0 separated by commas; `integers` demands whole numbers. */
export function numberList(integers: boolean): (value: string) => number[] {
  return (value) => {
    const list = value.split(',').map((v) => Number(v.trim()));
    if (list.some((n) => !Number.isFinite(n) || n < 0 || (integers && !Number.isInteger(n)))) {
      throw new InvalidArgumentError(`expected ${integers ? 'whole numbers' : 'numbers'} >= 0 separated by commas`);
    }
    return list;
  };
}

/** Collects a repeatable option's values in order. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/** Units of {@link durationMs}, in milliseconds. */
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as `500ms`, `30s`, `5m`, `1h` (a bare number is seconds), in whole milliseconds. */
export function durationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError('expected a duration such as 500ms, 30s, 5m or 1h');
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] as number));
}
