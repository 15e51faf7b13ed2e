import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { MiddlewareFn } from 'type-graphql';
import type { Config } from '../../config';
import type { Context } from '../../context';
import { ForbiddenError, UnauthenticatedError } from '../../errors';
import type { Logger } from '../../logger';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Checks `Authorization: Bearer <OPS_TOKEN>`. No bearer token: UNAUTHENTICATED. A wrong
 * one, or a server without OPS_TOKEN: FORBIDDEN. The comparison is of SHA-256 digests with
 * timingSafeEqual, so its time says nothing about the token, not even its length.
 */
export function requireOpsToken(authorization: string | undefined, opsToken: string | undefined): void {
  const given = authorization === undefined ? null : BEARER.exec(authorization.trim())?.[1];
  if (!given) throw new UnauthenticatedError('This needs Authorization: Bearer <OPS_TOKEN>');
  if (!opsToken) throw new ForbiddenError('This server has no OPS_TOKEN configured, so no token is accepted');
  if (!timingSafeEqual(digest(given), digest(opsToken))) throw new ForbiddenError('The token is not this server’s OPS_TOKEN');
}

/** True when `authorization` carries the ops token (no error: for exemptions such as rate limits). */
export function hasOpsToken(authorization: string | undefined, opsToken: string | undefined): boolean {
  if (!authorization || !opsToken) return false;
  try {
    requireOpsToken(authorization, opsToken);
    return true;
  } catch {
    return false;
  }
}

/** type-graphql middleware for the ops-only operations: the token is checked before any argument. */
export const OpsOnly: MiddlewareFn<Context> = ({ context }, next) => {
  requireOpsToken(context.authorization, context.config.opsToken);
  return next();
};

/**
 * On the embedded default (no DATABASE_URL, not production) without OPS_TOKEN, a token is
 * generated once, kept beside the embedded data folder (mode 600) and printed, so the ops
 * mutations can be tried at once. Elsewhere there is no default token.
 */
export async function withDevOpsToken(config: Config, log: Logger): Promise<Config> {
  if (config.opsToken || config.databaseUrl || config.isProduction) return config;
  const file = resolve(`${config.embedded.dataDir.replace(/\/+$/, '')}.ops-token`);
  let token = existsSync(file) ? (await readFile(file, 'utf8')).trim() : '';
  if (!token) {
    token = randomBytes(24).toString('base64url');
    await writeFile(file, `${token}\n`, { mode: 0o600 });
  }
  log.warn(
    { opsToken: token, file },
    'OPS_TOKEN is not set: using a generated one for the embedded database; send Authorization: Bearer <opsToken>',
  );
  return Object.freeze({ ...config, opsToken: token });
}
