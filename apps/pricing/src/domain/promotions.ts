/** A promotion: a percentage off the lines it applies to. */
export interface Promotion {
  readonly code: string;
  /** Discount in basis points of the line total (1000 = 10 %). */
  readonly basisPoints: number;
  /** Which lines it discounts. */
  readonly appliesTo: (line: { category: string; quantity: number }) => boolean;
  readonly description: string;
}

export const PROMOTIONS: Readonly<Record<string, Promotion>> = {
  SAVE10: { code: 'SAVE10', basisPoints: 1000, appliesTo: () => true, description: '10 % off everything' },
  BOOKS20: { code: 'BOOKS20', basisPoints: 2000, appliesTo: (l) => l.category === 'books', description: '20 % off books' },
  BULK5: { code: 'BULK5', basisPoints: 500, appliesTo: (l) => l.quantity >= 10, description: '5 % off lines of 10 or more' },
};
