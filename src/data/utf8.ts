/**
 * UTF-8 for byte-level tokenizers, written out (no TextEncoder/TextDecoder) so that lone
 * surrogates round-trip: a JS string may hold an unpaired UTF-16 surrogate, which UTF-8 cannot
 * encode. We encode it as WTF-8 does (https://simonsapin.github.io/wtf-8/): the three bytes UTF-8
 * would use for that code point (ED A0..BF xx), and decode those bytes back to the same code unit.
 * For well-formed strings the bytes are exactly standard UTF-8. Any other invalid sequence decodes
 * to U+FFFD per maximal invalid subpart, as the WHATWG Encoding Standard's UTF-8 decoder does.
 */

/**
 * The UTF-8 bytes of `text` (WTF-8 for lone surrogates).
 *
 * @example
 * nb.data.utf8Encode('é€😀'); // Uint8Array [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]
 */
export function utf8Encode(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 3); // at most 3 bytes per UTF-16 code unit
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 0x3f);
        out[n++] = 0x80 | ((c >> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    // BMP code point, or a lone surrogate (WTF-8).
    out[n++] = 0xe0 | (c >> 12);
    out[n++] = 0x80 | ((c >> 6) & 0x3f);
    out[n++] = 0x80 | (c & 0x3f);
  }
  return out.slice(0, n);
}

/**
 * The string whose UTF-8 (or WTF-8) bytes are `bytes`; invalid sequences become U+FFFD.
 *
 * @example
 * nb.data.utf8Decode(nb.data.utf8Encode('naïve')); // 'naïve'
 * nb.data.utf8Decode(new Uint8Array([0x61, 0xff])); // 'a\ufffd'
 */
export function utf8Decode(bytes: ArrayLike<number>): string {
  const units: number[] = [];
  let out = '';
  const emit = (cp: number): void => {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else units.push(cp);
    if (units.length >= 8192) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  };
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (needed === 0) {
      if (b <= 0x7f) emit(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        // Unlike strict UTF-8, ED A0..BF (surrogates) is accepted: WTF-8.
        if (b === 0xe0) lower = 0xa0;
        needed = 2;
        cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        cp = b & 0x07;
      } else emit(0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      // A truncated sequence: one U+FFFD, and this byte starts afresh.
      needed = seen = cp = 0;
      lower = 0x80;
      upper = 0xbf;
      emit(0xfffd);
      i--;
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen === needed) {
      emit(cp);
      needed = seen = cp = 0;
    }
  }
  if (needed !== 0) emit(0xfffd);
  return out + String.fromCharCode(...units);
}
