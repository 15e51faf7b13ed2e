import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { createSchema, printSortedSchema } from '../schema';

/** Writes schema/schema.graphql from the code. */
createSchema()
  .then((schema) => {
    writeFileSync('schema/schema.graphql', printSortedSchema(schema));
    console.log('wrote schema/schema.graphql');
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
