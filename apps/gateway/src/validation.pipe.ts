import type { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { parseInput } from './domain/api-schemas.js';

/**
 * Validation at the edge as a Nest pipe: `@Param('id', new Valid(productIdParam, 'id'))`. What fails is a
 * DomainError (invalid_argument) naming the field — `lines[0].quantity: …`, `Idempotency-Key: …` — which the edge's exception filter
 * answers as 400.
 */
export class Valid<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly where: string,
  ) {}

  transform(value: unknown): z.infer<S> {
    return parseInput(this.schema, value, this.where);
  }
}
