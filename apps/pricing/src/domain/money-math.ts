/**
 * Integer money arithmetic. Every amount is an integer number of minor units; intermediate products
 * are BigInt so nothing is lost to floating point, and every division rounds half to even
 * ("banker's rounding"), which does not drift upwards over many lines.
 */

/** Divides `numerator / denominator` (denominator > 0) and rounds half to even. */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const negative = numerator < 0n;
  const n = negative ? -numerator : numerator;
  let quotient = n / denominator;
  const twiceRemainder = (n % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n)) quotient += 1n;
  return negative ? -quotient : quotient;
}

/** `amount × basisPoints / 10 000`, rounded half to even (1 basis point = 0.01 %). */
export function applyBasisPoints(amount: bigint, basisPoints: number): bigint {
  return divideHalfEven(amount * BigInt(basisPoints), 10_000n);
}
