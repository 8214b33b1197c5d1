/**
 * A schema that uses every field kind the descriptor supports. Shared by the
 * codegen suites; the typed-client suite also copies this file into a temp
 * project (with the import rewritten to `ablo/schema`), so keep it to this
 * one import and plain definitions.
 */
import { defineSchema, model, z } from '../../src/schema/index.js';

export const schema = defineSchema({
  things: model(
    {
      name: z.string().min(2).max(20).describe('Display name'),
      code: z.string().length(4).regex(/^[A-Z]+$/),
      slug: z.string().startsWith('s-').endsWith('-x').includes('mid'),
      greeting: z.string().regex(/^hello/i).optional(),
      lower: z.string().lowercase().optional(),
      email: z.email(),
      site: z.url(),
      secureSite: z.url({ protocol: /^https$/ }).optional(),
      uuid: z.uuid().optional(),
      count: z.number().int().min(0).max(100),
      ratio: z.number().gt(0).lt(1).default(0.5),
      step: z.number().multipleOf(5).default(10),
      small: z.int32().optional(),
      done: z.boolean().default(false),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      dueAt: z.iso.datetime().nullable(),
      day: z.iso.date().optional(),
      meta: z.json().optional(),
      tags: z.array(z.string().min(1)).min(1).max(3),
      scores: z.array(z.number().int().nullable()).max(5).default([]),
      address: z
        .object({
          street: z.string(),
          zip: z.string().regex(/^\d{5}$/).optional(),
          country: z.string().default('NL'),
          'weird-key': z.boolean().optional(),
        })
        .nullable(),
      box: z.strictObject({ a: z.number() }).optional(),
      loose: z.looseObject({ b: z.string() }).optional(),
      labels: z.record(z.string(), z.string().max(10)),
      note: z.string().nullable().optional().describe('A note */ with a comment end'),
    },
    {},
    { description: 'Everything at once' },
  ),
  categories: model({ title: z.string(), parentId: z.string().nullable().default(null) }),
  status: model({ value: z.enum(['a', 'b']) }),
});
