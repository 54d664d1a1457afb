// One atomic file replacement for every small broker file (topic catalogue, producer snapshot): the
// data is fsynced before the rename and the directory after it, so a crash leaves the old file or the
// new one, and a completed write survives power loss with its name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from '../../../broker/fs/atomic-write.js';
import { DEFAULT_LOG_CONFIG } from '../../../broker/log/log-config.js';
import { ProducerState } from '../../../broker/log/producer-state.js';
import { TopicStore } from '../../../broker/metadata/topic-store.js';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-atomic-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Records the file-system calls of `fn` in order: which path each fd is, what was synced, what renamed. */
function trace(fn: () => void): string[] {
  const events: string[] = [];
  const fdPath = new Map<number, string>();
  const open = fs.openSync.bind(fs);
  vi.spyOn(fs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (open as (...a: unknown[]) => number)(p, ...rest);
    fdPath.set(fd, String(p));
    return fd;
  }));
  for (const name of ['fsyncSync', 'fdatasyncSync'] as const) {
    const real = fs[name].bind(fs);
    vi.spyOn(fs, name).mockImplementation((fd: number) => {
      events.push(`sync ${fdPath.get(fd) ?? `fd ${fd}`}`);
      real(fd);
    });
  }
  const rename = fs.renameSync.bind(fs);
  vi.spyOn(fs, 'renameSync').mockImplementation((from: fs.PathLike, to: fs.PathLike) => {
    events.push(`rename ${String(from)} -> ${String(to)}`);
    rename(from, to);
  });
  fn();
  vi.restoreAllMocks();
  return events;
}

/** The data is synced (under the temp name) before the rename, and the directory after it. */
function expectDurableReplace(events: string[], file: string): void {
  const renameAt = events.findIndex((e) => e.startsWith('rename ') && e.endsWith(` -> ${file}`));
  expect(renameAt, events.join('\n')).toBeGreaterThan(0);
  const tmpName = events[renameAt]!.slice('rename '.length, events[renameAt]!.indexOf(' -> '));
  expect(events.slice(0, renameAt), 'file synced before the rename').toContain(`sync ${tmpName}`);
  expect(events.slice(renameAt + 1), 'directory synced after the rename').toContain(`sync ${path.dirname(file)}`);
}

describe('writeFileAtomic', () => {
  it('creates and replaces a file whole, leaving no temp file behind', () => {
    const dir = tmp();
    const file = path.join(dir, 'state.json');
    writeFileAtomic(file, 'first');
    expect(fs.readFileSync(file, 'utf8')).toBe('first');
    writeFileAtomic(file, new TextEncoder().encode('second, longer than the first'));
    expect(fs.readFileSync(file, 'utf8')).toBe('second, longer than the first');
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
  });

  it('fsyncs the data before the rename and the directory after it', () => {
    const file = path.join(tmp(), 'state.json');
    expectDurableReplace(trace(() => writeFileAtomic(file, 'x')), file);
  });

  it('keeps the old file and removes its temp file when the replacement fails', () => {
    const dir = tmp();
    const file = path.join(dir, 'state.json');
    writeFileAtomic(file, 'old');
    vi.spyOn(fs, 'renameSync').mockImplementation(() => {
      throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    });
    expect(() => writeFileAtomic(file, 'new')).toThrow(/EIO/);
    vi.restoreAllMocks();
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
  });

  it('is what the producer snapshot and the topic catalogue are written with', () => {
    const dir = tmp();
    const st = new ProducerState();
    st.record(5, 0, 0, 1, 0);
    expectDurableReplace(
      trace(() => st.saveSnapshot(dir, 1)),
      path.join(dir, 'producers.snapshot'),
    );
    const topics = TopicStore.open(dir);
    expectDurableReplace(
      trace(() => topics.create('t', 1, { ...DEFAULT_LOG_CONFIG })),
      path.join(dir, 'topics.json'),
    );
  });
});
