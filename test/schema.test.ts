import { generate, loadCodegenConfig } from '@graphql-codegen/cli';
import { buildSchema, findBreakingChanges, findDangerousChanges } from 'graphql';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchema, printSortedSchema } from '../src/schema';
import { createTestApp, type TestApp } from './support/app';

const root = resolve(__dirname, '..');
const contractPath = resolve(root, '../shared/api/contract.graphql');

describe('the emitted schema', () => {
  it('matches schema/schema.graphql (run `npm run schema` after changing the code)', async () => {
    const emitted = printSortedSchema(await createSchema());
    expect(emitted).toBe(readFileSync(resolve(root, 'schema/schema.graphql'), 'utf8'));
  });

  it.skipIf(!existsSync(contractPath))('keeps every name, type and default of the API contract', async () => {
    const contract = buildSchema(readFileSync(contractPath, 'utf8'));
    const emitted = await createSchema();
    const problems = [
      ...findBreakingChanges(contract, emitted),
      ...findDangerousChanges(contract, emitted).filter((c) => c.type === 'ARG_DEFAULT_VALUE_CHANGE'),
    ].map((c) => c.description);
    expect(problems).toEqual([]);
  });

  it('has a description on every type and field clients see', async () => {
    const schema = await createSchema();
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
      if (!type.description && !['Query', 'Mutation'].includes(type.name)) missing.push(type.name);
      if ('getFields' in type) {
        for (const field of Object.values(type.getFields())) {
          // Connection plumbing (node, pageInfo) and mirrored ids explain themselves.
          if (!field.description && !['id', 'node', 'pageInfo', 'field', 'direction'].includes(field.name)) {
            missing.push(`${type.name}.${field.name}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('matches the typed operations in test/generated (run `npm run codegen`)', async () => {
    const { config } = await loadCodegenConfig({ configFilePath: resolve(root, 'codegen.yml') });
    const [output] = await generate({ ...config, cwd: root, silent: true }, false);
    expect(output.content).toBe(readFileSync(resolve(root, 'test/generated/graphql.ts'), 'utf8'));
  });
});

describe('migrations', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(() => app?.close());

  it('leave MikroORM’s schema diff empty: the entities and the migrated database agree', async () => {
    const diff = await app.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(diff.replace(/set names 'utf8';/g, '').trim()).toBe('');
  });

  it('go all the way down and up again', async () => {
    const migrator = app.orm.getMigrator();
    const applied = (await migrator.getExecutedMigrations()).map((m) => m.name);
    await migrator.down({ to: 0 });
    const left = await app.sql.rows<{ relname: string }>(
      "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'm', 'v') and relname <> 'mikro_orm_migrations'",
    );
    expect(left).toEqual([]);
    await migrator.up();
    expect((await migrator.getExecutedMigrations()).map((m) => m.name)).toEqual(applied);
  });
});
