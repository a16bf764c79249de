/** A currency Strata can quote in: its minor-unit exponent and a fixed rate against EUR. */
export interface Currency {
  readonly code: string;
  /** Digits after the decimal point: 2 for cents, 0 for yen. */
  readonly exponent: number;
  /** Units of this currency per 1 EUR, times 1 000 000 (an integer, so conversion stays exact). */
  readonly microRatePerEur: bigint;
}

/** The rate table. Fixed on purpose: a reference system should give the same quote on every run. */
export const CURRENCIES: Readonly<Record<string, Currency>> = {
  EUR: { code: 'EUR', exponent: 2, microRatePerEur: 1_000_000n },
  USD: { code: 'USD', exponent: 2, microRatePerEur: 1_080_000n },
  GBP: { code: 'GBP', exponent: 2, microRatePerEur: 850_000n },
  CHF: { code: 'CHF', exponent: 2, microRatePerEur: 950_000n },
  SEK: { code: 'SEK', exponent: 2, microRatePerEur: 11_300_000n },
  JPY: { code: 'JPY', exponent: 0, microRatePerEur: 162_000_000n },
};

/** Value-added tax by ISO 3166-1 country, in basis points (1900 = 19 %). */
export const TAX_RATES: Readonly<Record<string, number>> = {
  DE: 1900,
  FR: 2000,
  NL: 2100,
  GB: 2000,
  CH: 810,
  SE: 2500,
  JP: 1000,
  US: 0,
};
