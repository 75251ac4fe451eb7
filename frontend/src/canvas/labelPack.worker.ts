// Packs whole label tiles into texels (edge flags + tile-local indices) off the main thread; see labelPacker.ts.
import { packLocalTexels } from "./labelTexels";
import type { PackRequest, PackResponse } from "./labelPacker";

self.onmessage = (event: MessageEvent<PackRequest>) => {
  const { id, width, height, data, borders } = event.data;
  const { texels, ids } = packLocalTexels(width, height, data, borders);
  const response: PackResponse = { id, data, texels, ids };
  (self as unknown as Worker).postMessage(response, [data.buffer, texels.buffer, ids.buffer]);
};
