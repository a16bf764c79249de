import type { Product } from '@strata/contracts/catalog/v1';

/** A product and how similar it is to the one asked about (cosine, 0 to 1). */
export interface Ranked {
  product: Product;
  score: number;
}

/** Weights of each kind of feature in the vector: a shared brand says more than a shared size. */
const WEIGHTS = { category: 3, brand: 2, style: 1.5, material: 1.2, color: 1, size: 0.5, tag: 0.8, word: 0.6, price: 1.5 } as const;

/** FNV-1a, 32 bit: a fast, stable string hash for the hashing trick. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Turns a product's attributes into a unit vector of `dimensions` non-negative numbers with the hashing
 * trick: every feature ("brand=Acme", "tag=gift", a name word, a price band) adds its weight at two
 * hashed positions. Non-negative entries keep cosine similarity between 0 and 1.
 */
export function featureVector(product: Product, dimensions: number): Float64Array {
  const vector = new Float64Array(dimensions);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    vector[h % dimensions]! += weight;
    vector[(h >>> 16) % dimensions]! += weight / 2;
  };
  add(`category=${product.category}`, WEIGHTS.category);
  for (const [key, value] of Object.entries(product.attributes)) {
    add(`${key}=${value}`, WEIGHTS[key as keyof typeof WEIGHTS] ?? 1);
  }
  for (const tag of product.tags) add(`tag=${tag}`, WEIGHTS.tag);
  for (const word of product.name.toLowerCase().split(/\s+/)) add(`word=${word}`, WEIGHTS.word);
  // Neighbouring price bands overlap, so similar prices are similar.
  const band = Math.floor(Math.log2(1 + (product.price?.minorUnits ?? 0) / 100));
  add(`price=${band}`, WEIGHTS.price);
  add(`price=${band + 1}`, WEIGHTS.price / 2);
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dimensions; i++) vector[i]! /= norm;
  return vector;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/**
 * Picks the `limit` candidates most similar to `target`, re-ranked by maximal marginal relevance so the
 * list is not ten copies of one thing: each pick maximises
 * `diversity' × similarity(target) − (1 − diversity') × max similarity(already picked)`, with
 * diversity' = 1 − diversity. `score` is always the plain cosine similarity to the target.
 */
export function rankSimilar(target: Product, candidates: readonly Product[], limit: number, dimensions: number, diversity = 0.3): Ranked[] {
  const targetVector = featureVector(target, dimensions);
  const pool = candidates
    .filter((c) => c.id !== target.id)
    .map((product) => {
      const vector = featureVector(product, dimensions);
      return { product, vector, score: Math.min(1, Math.max(0, dot(targetVector, vector))) };
    });
  const relevance = 1 - diversity;
  const picked: typeof pool = [];
  const maxSimilarityToPicked = new Float64Array(pool.length);
  const taken = new Uint8Array(pool.length);
  while (picked.length < Math.min(limit, pool.length)) {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < pool.length; i++) {
      if (taken[i]) continue;
      const value = relevance * pool[i]!.score - diversity * maxSimilarityToPicked[i]!;
      // Ties go to the smaller id, so the ranking is deterministic.
      if (value > bestValue || (value === bestValue && best >= 0 && pool[i]!.product.id < pool[best]!.product.id)) {
        best = i;
        bestValue = value;
      }
    }
    taken[best] = 1;
    const chosen = pool[best]!;
    picked.push(chosen);
    for (let i = 0; i < pool.length; i++) {
      if (!taken[i]) maxSimilarityToPicked[i] = Math.max(maxSimilarityToPicked[i]!, dot(chosen.vector, pool[i]!.vector));
    }
  }
  return picked.map(({ product, score }) => ({ product, score }));
}
