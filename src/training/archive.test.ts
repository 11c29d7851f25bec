/**
 * Hostile workflow packages: real .tar.gz archives made with tar-stream and real .zip archives
 * written byte by byte below (stored entries, as the zip specification's local header, central
 * directory and end record lay them out), unpacked by the code users' uploads go through.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, crc32 } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ARCHIVE_LIMITS, safeEntryPath, unpackArchive } from './archive.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'continuum-archive-'));
  dirs.push(d);
  return d;
}

type TarEntry = { name: string; body?: string | Buffer; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string };

async function tarGz(entries: readonly TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const body = e.body === undefined ? undefined : Buffer.from(e.body);
    const header = { name: e.name, type: e.type ?? 'file', ...(e.linkname === undefined ? {} : { linkname: e.linkname }), ...(body === undefined ? {} : { size: body.length }) };
    if (body === undefined) p.entry(header);
    else p.entry(header, body);
  }
  p.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks));
}

/** A zip of stored entries; `unixMode` sets the external attributes as Info-ZIP does on Unix. */
function zip(entries: readonly { name: string; body: string; unixMode?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = Buffer.from(e.body);
    const crc = crc32(body);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(body.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.unixMode === undefined ? 20 : (3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(body.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.unixMode ?? 0) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

async function unpack(bytes: Buffer, limits = DEFAULT_ARCHIVE_LIMITS): Promise<{ root: string; result: Promise<unknown> }> {
  const dir = tempDir();
  const file = join(dir, 'package');
  writeFileSync(file, bytes);
  const root = join(dir, 'work');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(root);
  return { root, result: unpackArchive(file, root, limits) };
}

describe('safeEntryPath', () => {
  it('keeps plain relative paths and refuses every way out', () => {
    expect(safeEntryPath('train.js')).toBe('train.js');
    expect(safeEntryPath('lib/util.js')).toBe('lib/util.js');
    expect(safeEntryPath('lib/')).toBe('lib');
    expect(safeEntryPath('./train.js')).toBe('train.js');
    expect(safeEntryPath('./')).toBe('');
    for (const bad of ['../evil.js', 'a/../../evil', '/etc/passwd', 'C:evil', 'a\\..\\evil', 'a//b', 'a/./b', '././../evil', '', 'a\0b']) {
      expect(() => safeEntryPath(bad), bad).toThrow(/refused/);
    }
  });
});

describe('unpackArchive', () => {
  it('unpacks a .tar.gz and a .zip of files and directories', async () => {
    const tgz = await unpack(await tarGz([{ name: 'lib', type: 'directory' }, { name: 'manifest.json', body: '{"name":"pcb"}' }, { name: 'lib/train.js', body: 'export {}' }]));
    await expect(tgz.result).resolves.toMatchObject({ files: ['manifest.json', 'lib/train.js'] });
    expect(readFileSync(join(tgz.root, 'lib/train.js'), 'utf8')).toBe('export {}');
    const z = await unpack(zip([{ name: 'manifest.json', body: '{}' }, { name: 'src/train.js', body: 'x' }]));
    await expect(z.result).resolves.toMatchObject({ files: ['manifest.json', 'src/train.js'], totalBytes: 3 });
  });

  it('refuses zip slip in both formats, writing nothing outside', async () => {
    const tgz = await unpack(await tarGz([{ name: '../../escaped.js', body: 'x' }]));
    await expect(tgz.result).rejects.toThrow(/leaves or walks around/);
    const z = await unpack(zip([{ name: '../escaped.js', body: 'x' }]));
    await expect(z.result).rejects.toThrow(/refused/);
    expect(existsSync(join(z.root, '..', 'escaped.js'))).toBe(false);
  });

  it('refuses symlinks and hard links', async () => {
    const link = await unpack(await tarGz([{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }]));
    await expect(link.result).rejects.toThrow(/symlink; only files and directories/);
    const hard = await unpack(await tarGz([{ name: 'h', type: 'link', linkname: '/etc/passwd' }]));
    await expect(hard.result).rejects.toThrow(/link; only files and directories/);
    const zipLink = await unpack(zip([{ name: 'passwd', body: '/etc/passwd', unixMode: 0o120777 }]));
    await expect(zipLink.result).rejects.toThrow(/symlink or special file/);
  });

  it('stops an archive bomb at the ratio, a file at its size, and a flood of entries at the count', async () => {
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const bomb = await unpack(await tarGz([{ name: 'zeros.bin', body: zeros }]));
    await expect(bomb.result).rejects.toThrow(/times its own size/);
    const big = await unpack(await tarGz([{ name: 'big.bin', body: Buffer.alloc(4096, 7) }]), { ...DEFAULT_ARCHIVE_LIMITS, maxFileBytes: 1024 });
    await expect(big.result).rejects.toThrow(/more than 1024 bytes/);
    const many = await unpack(zip(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, body: 'x' }))), { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 4 });
    await expect(many.result).rejects.toThrow(/more than 4 entries/);
  });

  it('refuses something that is neither format, and a duplicate entry instead of overwriting', async () => {
    const junk = await unpack(Buffer.from('not an archive'));
    await expect(junk.result).rejects.toThrow(/neither a .tar.gz nor a .zip/);
    const twice = await unpack(await tarGz([{ name: 'a.js', body: 'one' }, { name: 'a.js', body: 'two' }]));
    await expect(twice.result).rejects.toThrow(/EEXIST/);
  });
});
