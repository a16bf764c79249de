/** A request that breaks a rule: the field at fault, as a path from the request's root, and what is wrong with it. */
export interface Problem {
  /**
   * The field's path in the contract's JSON names (lowerCamelCase, proto3's JSON mapping, which the HTTP API uses too):
   * `lines[2].quantity`, `idempotencyKey`. So a mistake reads the same whichever layer catches it.
   */
  field: string;
  message: string;
}

export interface LineRules {
  /** What a request with lines is called in a message ("an order", "a quote"). */
  noun: string;
  maxLines: number;
  maxQuantity: number;
  /** Whether a product may appear on two lines. */
  distinctProducts: boolean;
}

/** Every problem of a request's lines (count, product ids present and unique, quantities), in field order. */
export function lineProblems(rules: LineRules, lines: readonly { productId: string; quantity: number }[]): Problem[] {
  const problems: Problem[] = [];
  if (lines.length === 0 || lines.length > rules.maxLines)
    problems.push({ field: 'lines', message: `${rules.noun} needs 1 to ${rules.maxLines} lines, got ${lines.length}` });
  const seen = new Set<string>();
  lines.slice(0, rules.maxLines).forEach((line, i) => {
    if (!line.productId) problems.push({ field: `lines[${i}].productId`, message: 'is required' });
    else if (rules.distinctProducts && seen.has(line.productId))
      problems.push({
        field: `lines[${i}].productId`,
        message: `'${line.productId.slice(0, 40)}' appears twice; put the whole quantity on one line`,
      });
    seen.add(line.productId);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > rules.maxQuantity)
      problems.push({
        field: `lines[${i}].quantity`,
        message: `must be a whole number from 1 to ${rules.maxQuantity}, got ${String(line.quantity).slice(0, 20)}`,
      });
  });
  return problems;
}
