/** Scalar functions the reference kernels need and JavaScript's Math lacks. */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const SQRT_PI = 1.7724538509055159;

/**
 * The error function to about 1e-15: the Maclaurin series (Horner, precomputed coefficients) below
 * |x| = 0.5; above it erfc(z) = t·exp(−z² + P(t)) with t = 2/(2 + z) and P a Chebyshev series in t
 * (the form of Numerical Recipes' erfccheb), whose coefficients are fitted once, when this module
 * loads, to the slow series and continued fraction below.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < SMALL) {
    const x2 = x * x;
    let p = 0;
    for (let n = TAYLOR.length - 1; n >= 0; n--) p = p * x2 + TAYLOR[n]!;
    return x * p;
  }
  if (ax > 6) return Math.sign(x);
  const t = 2 / (2 + ax);
  const erfc = t * Math.exp(-ax * ax + chebyshev(CHEB, (2 * t) / T_MAX - 1));
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** Σ c_k·T_k(u) for u in [−1, 1] (Clenshaw's recurrence, with c_0 halved). */
function chebyshev(c: Float64Array, u: number): number {
  let b1 = 0;
  let b2 = 0;
  const u2 = 2 * u;
  for (let k = c.length - 1; k >= 1; k--) {
    const b0 = u2 * b1 - b2 + c[k]!;
    b2 = b1;
    b1 = b0;
  }
  return u * b1 - b2 + 0.5 * c[0]!;
}

// |x| below which erf uses its Maclaurin series, and that series' coefficients
// 2/√π·(−1)^n/(n!·(2n+1)): 14 terms reach x^29 / 14!, far below 1e-17 at |x| = 0.5.
const SMALL = 0.5;
const TAYLOR = Float64Array.from({ length: 14 }, (_, n) => {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return (TWO_OVER_SQRT_PI * (n % 2 ? -1 : 1)) / (f * (2 * n + 1));
});

/**
 * erfc(z)·exp(z²) for z ≥ 0 the slow, accurate way: 1 − the Maclaurin series below 1, and the
 * continued fraction erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))) (Lentz's
 * method) above it. Only used to fit the Chebyshev coefficients.
 */
function erfcScaledSlow(z: number): number {
  if (z < 1) {
    const z2 = z * z;
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= -z2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (1 - TWO_OVER_SQRT_PI * sum) * Math.exp(z2);
  }
  const tiny = 1e-300;
  let f = z;
  let c = z;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = z + a * d;
    d = d === 0 ? tiny : d;
    c = z + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (SQRT_PI * f);
}

// t = 2/(2 + z) runs over (0, T_MAX] for z ≥ SMALL; P(t) = log(erfc(z)·exp(z²)/t) is smooth there
// (→ −log(2√π) as z → ∞). Fitted at the Chebyshev nodes of [0, T_MAX].
const T_MAX = 2 / (2 + SMALL);
const CHEB_TERMS = 24;
const CHEB = (() => {
  const n = CHEB_TERMS;
  const values = Array.from({ length: n }, (_, j) => {
    const u = Math.cos((Math.PI * (j + 0.5)) / n);
    const t = ((u + 1) / 2) * T_MAX;
    return Math.log(erfcScaledSlow(2 / t - 2) / t);
  });
  return Float64Array.from({ length: n }, (_, k) => {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += values[j]! * Math.cos((Math.PI * k * (j + 0.5)) / n);
    return (2 / n) * sum;
  });
})();

/** Numerically stable logistic function. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;
const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_C = 0.044715;
// Beyond this |x| the tanh form has saturated and x³ could overflow to ±Infinity (then 0·∞).
const GELU_TANH_SATURATED = 1e10;

/** x·Φ(x), the exact GELU; its limits at ±Infinity (−0 and +Infinity), not NaN. */
export function gelu(x: number): number {
  if (x === -Infinity) return -0;
  return 0.5 * x * (1 + erf(x * SQRT1_2));
}

/** d/dx x·Φ(x) = Φ(x) + x·φ(x); 0 and 1 at ±Infinity. */
export function geluGrad(x: number): number {
  if (!Number.isFinite(x)) return x === Infinity ? 1 : x === -Infinity ? 0 : NaN;
  return 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), GELU's tanh approximation. */
export function geluTanh(x: number): number {
  if (Math.abs(x) > GELU_TANH_SATURATED) return x > 0 ? x : -0;
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
}

/** The derivative of geluTanh. */
export function geluTanhGrad(x: number): number {
  if (Math.abs(x) > GELU_TANH_SATURATED) return x > 0 ? 1 : 0;
  const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
}
