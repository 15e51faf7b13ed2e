import { describe, expect, it } from 'vitest';
import { CursorCodec, isInt, isTimestamp } from '../../src/modules/common/cursor';
import { PublicError } from '../../src/errors';

const codec = new CursorCodec('unit-secret');
const checks = [isTimestamp, isInt];
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof PublicError ? err.extensions : err;
  }
  return 'accepted';
};

describe('cursors', () => {
  const key = ['2026-01-02T03:04:05.000Z', 7];
  const cursor = codec.encode('reviews:1', key);

  it('give back the key they were made with, for the same scope', () => {
    expect(codec.decode(cursor, 'reviews:1', 'after', checks)).toEqual(key);
  });

  it('name their format first, so a later release can tell one it does not read', () => {
    expect(cursor.split('.')[0]).toBe('v1');
    const unknown = refusal(() => codec.decode(`v9.${cursor.slice(3)}`, 'reviews:1', 'after', checks));
    expect(unknown).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('are refused under another scope, another secret, or with a key of another shape', () => {
    expect(refusal(() => codec.decode(cursor, 'reviews:2', 'after', checks))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(refusal(() => new CursorCodec('other').decode(cursor, 'reviews:1', 'after', checks))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(refusal(() => codec.decode(cursor, 'reviews:1', 'after', [isInt, isInt]))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(refusal(() => codec.decode(cursor, 'reviews:1', 'after', [isTimestamp]))).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('are refused when edited or malformed', () => {
    const [format, body, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', 7])).toString('base64url');
    for (const bad of ['', '.', 'v1.', `${format}.${forged}.${mac}`, `${format}.${body}.${mac}x`, `${cursor}.x`, `${format}.${body}`, 'x'.repeat(3000)]) {
      expect(refusal(() => codec.decode(bad, 'reviews:1', 'after', checks)), bad).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
  });
});
