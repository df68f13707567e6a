// Decodes a BlurHash (https://blurha.sh: an average colour and a few cosine components in base 83) into RGBA pixels,
// for the placeholder shown while an attachment's thumbnail loads. Our own small implementation of the published
// algorithm (the encoder is services/Media/Processing/BlurHash.cs).
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function decode83(text: string): number {
  let value = 0;
  for (const char of text) {
    const digit = alphabet.indexOf(char);
    if (digit < 0) throw new Error("not a blurhash");
    value = value * 83 + digit;
  }
  return value;
}

const toLinear = (value: number) => {
  const v = value / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
};

const toSrgb = (value: number) => {
  const v = Math.max(0, Math.min(1, value));
  return Math.round((v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055) * 255);
};

const signPow = (value: number, exponent: number) => Math.sign(value) * Math.abs(value) ** exponent;

/** The pixels of a `width` x `height` image, or undefined when the text is not a valid blurhash. */
export function decodeBlurHash(hash: string, width: number, height: number): Uint8ClampedArray<ArrayBuffer> | undefined {
  try {
    if (hash.length < 6) return undefined;
    const size = decode83(hash[0]!);
    const componentsX = (size % 9) + 1;
    const componentsY = Math.floor(size / 9) + 1;
    if (hash.length !== 4 + 2 * componentsX * componentsY) return undefined;
    const maximum = (decode83(hash[1]!) + 1) / 166;
    const colours: Array<[number, number, number]> = [];
    const dc = decode83(hash.slice(2, 6));
    colours.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    for (let i = 1; i < componentsX * componentsY; i++) {
      const ac = decode83(hash.slice(4 + i * 2, 6 + i * 2));
      const r = Math.floor(ac / (19 * 19));
      const g = Math.floor(ac / 19) % 19;
      const b = ac % 19;
      colours.push([signPow((r - 9) / 9, 2) * maximum, signPow((g - 9) / 9, 2) * maximum, signPow((b - 9) / 9, 2) * maximum]);
    }
    const pixels = new Uint8ClampedArray(new ArrayBuffer(width * height * 4));
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let j = 0; j < componentsY; j++) {
          for (let i = 0; i < componentsX; i++) {
            const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
            const colour = colours[i + j * componentsX]!;
            r += colour[0] * basis;
            g += colour[1] * basis;
            b += colour[2] * basis;
          }
        }
        const p = 4 * (x + y * width);
        pixels[p] = toSrgb(r);
        pixels[p + 1] = toSrgb(g);
        pixels[p + 2] = toSrgb(b);
        pixels[p + 3] = 255;
      }
    }
    return pixels;
  } catch {
    return undefined;
  }
}

/** A data URL of the placeholder (32 x 32, stretched by CSS), or undefined. */
export function blurHashUrl(hash: string | null | undefined): string | undefined {
  if (!hash || typeof document === "undefined") return undefined;
  const pixels = decodeBlurHash(hash, 32, 32);
  if (!pixels) return undefined;
  const canvas = document.createElement("canvas");
  canvas.width = 32;
  canvas.height = 32;
  const context = canvas.getContext("2d");
  if (!context) return undefined;
  context.putImageData(new ImageData(pixels, 32, 32), 0, 0);
  return canvas.toDataURL();
}
