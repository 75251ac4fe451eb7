// @types/node is not a dependency of the frontend; the core tests only need these Node built-ins to read the
// golden files and to inflate with an independent zlib. (Should @types/node be added, these merge with it.)
declare module "node:fs" {
  export function readFileSync(path: string | URL): Uint8Array;
  export function readFileSync(path: string | URL, encoding: "utf8"): string;
}
declare module "node:zlib" {
  export function inflateSync(data: Uint8Array): Uint8Array;
}
