import { describe, expect, it } from 'vitest';
import { withMarkedSection, withServingSection } from './report.js';

describe('the Serving section of docs/benchmarks.md', () => {
  it('replaces only its own section and keeps what other benchmarks wrote', () => {
    const first = withServingSection('# Benchmarks\n\n## Runtime\n\nruntime table\n', '## Serving\n\nrun 1');
    expect(first).toContain('## Runtime\n\nruntime table');
    expect(first).toContain('run 1');
    const second = withServingSection(`${first}\n## Later section\n\nkept\n`, '## Serving\n\nrun 2');
    expect(second).toContain('run 2');
    expect(second).not.toContain('run 1');
    expect(second).toContain('runtime table');
    expect(second).toContain('## Later section\n\nkept');
    expect(second.match(/## Serving/g)).toHaveLength(1);
  });

  it('starts the page when there is none', () => {
    const doc = withServingSection('', '## Serving\n\nrun');
    expect(doc.startsWith('# Benchmarks')).toBe(true);
    expect(doc).toContain('## Serving\n\nrun');
  });
});

describe('a marked section of docs/benchmarks.md', () => {
  it('is appended with its markers, then replaced in place without touching the sections around it', () => {
    const begin = '<!-- gateway:begin -->';
    const end = '<!-- gateway:end -->';
    const serving = withServingSection('# Benchmarks\n', '## Serving\n\nserving table');
    const first = withMarkedSection(serving, begin, end, '## Gateway\n\nrun 1');
    expect(first.startsWith(serving.trimEnd())).toBe(true);
    expect(first.trimEnd().endsWith(`${begin}\n## Gateway\n\nrun 1\n${end}`)).toBe(true);
    const second = withMarkedSection(withServingSection(first, '## Serving\n\nserving 2'), begin, end, '## Gateway\n\nrun 2');
    expect(second).toContain('serving 2');
    expect(second).toContain('run 2');
    expect(second).not.toContain('run 1');
    expect(second.match(/<!-- gateway:begin -->/g)).toHaveLength(1);
  });
});
