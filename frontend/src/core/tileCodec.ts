// Label-map tile codec, the TypeScript twin of labeling/masks/tiles.py (STYLE §12: one module per language,
// checked against shared golden files in tests/golden/).
//
// Wire format of one tile: its pixels as little-endian uint32, row-major, compressed as a zlib stream
// (RFC 1950), which is exactly what CompressionStream / DecompressionStream("deflate") produce and read.
// Tile (tx, ty) covers columns tx*ts .. min((tx+1)*ts, width) and rows ty*ts .. min((ty+1)*ts, height); edge
// tiles are cropped, never padded, so a tile's shape follows from the image size alone.
//
// No DOM: CompressionStream, atob and btoa exist in browsers, Web Workers and Node 20.

export const TILE_SIZE = 512;

/** A tile is malformed: bad coordinates, shape or bytes. */
export class TileCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TileCodecError";
  }
}

// Typed arrays use the platform's byte order; every browser we target is little-endian, but the wire format
// must not depend on that, so big-endian hosts take the (slower) DataView path.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Number of tile [columns, rows] covering a width x height image (Python: tile_grid). */
export function tileGrid(width: number, height: number, tileSize: number = TILE_SIZE): [number, number] {
  if (!Number.isInteger(tileSize) || tileSize < 1) {
    throw new TileCodecError(`tileSize must be a positive integer, got ${tileSize}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new TileCodecError(`image size must be non-negative integers, got ${width}x${height}`);
  }
  return [Math.ceil(width / tileSize), Math.ceil(height / tileSize)];
}

/** [rows, cols] of tile (tx, ty); edge tiles are cropped to the image (Python: tile_shape, same order). */
export function tileShape(
  width: number,
  height: number,
  tx: number,
  ty: number,
  tileSize: number = TILE_SIZE,
): [number, number] {
  const [cols, rows] = tileGrid(width, height, tileSize);
  if (!Number.isInteger(tx) || !Number.isInteger(ty) || tx < 0 || ty < 0 || tx >= cols || ty >= rows) {
    throw new TileCodecError(`tile (${tx}, ${ty}) is outside the ${cols}x${rows} tile grid of a ${width}x${height} image`);
  }
  return [Math.min(tileSize, height - ty * tileSize), Math.min(tileSize, width - tx * tileSize)];
}

/** The tile's pixels as little-endian bytes (a view when the host is little-endian, else a copy). */
function toLittleEndianBytes(pixels: Uint32Array): Uint8Array<ArrayBuffer> {
  if (LITTLE_ENDIAN && pixels.buffer instanceof ArrayBuffer) {
    return new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  }
  const out = new Uint8Array(pixels.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pixels.length; i++) view.setUint32(i * 4, pixels[i], true);
  return out;
}

/** Read a whole byte stream, giving up as soon as it passes `limit` bytes (limit < 0: no limit). */
async function readAll(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (limit >= 0 && total > limit) {
      // Stop inflating a bomb early instead of buffering all of it.
      await reader.cancel().catch(() => undefined);
      throw new TileCodecError(`tile inflates to more than the ${limit} bytes it should hold`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0].buffer instanceof ArrayBuffer && chunks[0].byteOffset === 0) {
    return chunks[0] as Uint8Array<ArrayBuffer>;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Push `input` through a (de)compression transform and collect its output. */
async function transform(
  input: Uint8Array<ArrayBuffer>,
  stream: CompressionStream | DecompressionStream,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const writer = stream.writable.getWriter();
  // Write and close without awaiting first: the readable side must be drained concurrently or a large
  // input would stall on back-pressure. Errors surface through the reader; these catches avoid unhandled
  // rejections for the same failure.
  writer.write(input).catch(() => undefined);
  writer.close().catch(() => undefined);
  return readAll(stream.readable, limit);
}

/** Compress one tile to its wire format (little-endian uint32, row-major, zlib). */
export async function encodeTile(pixels: Uint32Array): Promise<Uint8Array> {
  if (pixels.length === 0) throw new TileCodecError("a tile must not be empty");
  return transform(toLittleEndianBytes(pixels), new CompressionStream("deflate"), -1);
}

/**
 * Inflate one tile of `rows` x `cols` pixels. Wrong-size, truncated, trailing or corrupt data is rejected with
 * TileCodecError, and inflation stops as soon as the output passes the expected size.
 */
export async function decodeTile(bytes: Uint8Array, rows: number, cols: number): Promise<Uint32Array> {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new TileCodecError(`a tile shape must be positive integers, got ${rows}x${cols}`);
  }
  const expected = rows * cols * 4;
  // Copy into a fresh ArrayBuffer: the input may be a view on a SharedArrayBuffer or a larger buffer.
  const input = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = await transform(input, new DecompressionStream("deflate"), expected);
  } catch (error) {
    if (error instanceof TileCodecError) throw new TileCodecError(`${error.message} (${rows}x${cols} tile)`);
    throw new TileCodecError(`tile is not a valid zlib stream: ${(error as Error).message ?? error}`);
  }
  if (raw.byteLength !== expected) {
    throw new TileCodecError(`tile inflates to ${raw.byteLength} bytes, a ${rows}x${cols} tile needs ${expected}`);
  }
  if (LITTLE_ENDIAN) {
    // Aligned view when possible (readAll returns offset-0 buffers), else one copy.
    return raw.byteOffset % 4 === 0 ? new Uint32Array(raw.buffer, raw.byteOffset, rows * cols) : new Uint32Array(raw.slice().buffer);
  }
  const out = new Uint32Array(rows * cols);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

// btoa/atob work on "binary strings"; String.fromCharCode takes a bounded number of arguments, hence chunks.
const BASE64_CHUNK = 0x8000;

/** Standard base64 (with padding), what the save API expects for tile data. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += BASE64_CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + BASE64_CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

/** Decode standard base64; throws TileCodecError on characters outside the alphabet. */
export function base64ToBytes(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TileCodecError("tile data is not valid base64");
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
