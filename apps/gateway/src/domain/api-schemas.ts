import { IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_RULE, placeOrderLineProblems, type Problem } from '@strata/contract-rules/orders/v1';
import { quoteLineProblems } from '@strata/contract-rules/pricing/v1';
import { DomainError } from '@strata/domain-errors';
import { z } from 'zod';

/**
 * What the edge accepts. Every schema is strict: an unknown field is refused rather than silently
 * dropped, so a misspelt "quantitiy" cannot turn into an order of one. The rules of the lines and of the idempotency
 * key are the contracts' (@strata/contract-rules), which pricing and orders check with the same code: a mistake
 * reads the same whichever layer catches it.
 */
const productId = z.string().regex(/^p-\d{6}$/, 'must be a product id such as "p-000042"');
const currency = z.string().regex(/^[A-Za-z]{3}$/, 'must be a 3-letter ISO 4217 code such as "EUR"');
const country = z.string().regex(/^[A-Za-z]{2}$/, 'must be a 2-letter ISO 3166 code such as "DE"');
const promotion = z.string().regex(/^[A-Za-z0-9]{1,32}$/, 'must be 1 to 32 letters or digits');

/** The contract's rules of the lines, as zod issues at the fields they name. */
const keeps =
  (problemsOf: (lines: { productId: string; quantity: number }[]) => Problem[]) =>
  (body: { lines: { productId: string; quantity: number }[] }, ctx: z.RefinementCtx) => {
    for (const p of problemsOf(body.lines))
      ctx.addIssue({
        code: 'custom',
        message: p.message,
        path: p.field
          .split(/[.[\]]+/)
          .filter(Boolean)
          .map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
      });
  };

export const listProductsQuery = z
  .object({
    query: z.string().max(200).optional(),
    category: z
      .string()
      .regex(/^[a-z]{1,32}$/, 'must be a lower-case category name such as "books"')
      .optional(),
    pageSize: z.coerce.number().int('must be a whole number').min(1).max(100).optional(),
    pageToken: z.string().max(512).optional(),
  })
  .strict();

export const productIdParam = productId;

export const recommendationsQuery = z.object({ limit: z.coerce.number().int('must be a whole number').min(1).max(50).optional() }).strict();

// The quantity's range is the contract's rule (checked below, with the count of lines): here only its type.
const line = z.object({ productId, quantity: z.number() }).strict();

export const quoteBody = z
  .object({
    lines: z.array(line),
    currency: currency.optional(),
    country: country.optional(),
    promotionCode: promotion.optional(),
  })
  .strict()
  .superRefine(keeps(quoteLineProblems));

export const orderBody = z
  .object({
    lines: z.array(line),
    currency: currency.optional(),
    country: country.optional(),
    promotionCode: promotion.optional(),
    customerEmail: z.email().max(254).optional(),
  })
  .strict()
  .superRefine(keeps(placeOrderLineProblems));

export const idempotencyKey = z.string().regex(IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_RULE);
export const orderIdParam = z.string().regex(/^o-[0-9a-f-]{36}$/, 'must be an order id such as "o-1b4e28ba-2fa1-11d2-883f-0016d3cca427"');

/**
 * Parses `value` or throws an invalid_argument DomainError naming every bad field. `where` names what was parsed (a
 * header, a query, a path parameter); a body's fields are named from its root, as the contracts name them
 * ("lines[0].quantity: ..."), and "body" is the body itself.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const field = `${where === 'body' && path ? '' : where}${path}`.replace(/^\./, '');
    return { field: field || where, text: `${field || where}: ${issue.message}` };
  });
  // The edge's one error mapping turns invalid_argument into 400 with this message.
  return throwInvalid(problems);
}

function throwInvalid(problems: { field: string; text: string }[]): never {
  throw new DomainError('invalid_argument', problems.map((p) => p.text).join('; '), problems[0]?.field);
}
