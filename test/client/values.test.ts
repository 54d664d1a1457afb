import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyBytes, json, utf8 } from '../../client/index.js';

describe('record value helpers', () => {
  it('decodes UTF-8 and JSON, and maps null to empty / null', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const bytes = new TextEncoder().encode(JSON.stringify(v));
        expect(json(bytes)).toEqual(JSON.parse(JSON.stringify(v)));
        expect(utf8(bytes)).toBe(JSON.stringify(v));
      }),
      { numRuns: 100 },
    );
    expect(utf8(null)).toBe('');
    expect(json(null)).toBeNull();
    expect(() => json(new TextEncoder().encode('{nope'))).toThrow(SyntaxError);
  });

  it('copies a view so it outlives the frame', () => {
    const frame = new Uint8Array([1, 2, 3, 4]);
    const view = frame.subarray(1, 3);
    const copy = copyBytes(view);
    frame[1] = 9;
    expect([...copy]).toEqual([2, 3]);
    expect(copy.buffer).not.toBe(frame.buffer);
  });
});
