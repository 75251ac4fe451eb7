// Compresses label tiles for autosave off the main thread; see tileEncoder.ts.
import { encodeTileBase64, type EncodeRequest, type EncodeResponse } from "./tileEncoder";

self.onmessage = async (event: MessageEvent<EncodeRequest>) => {
  const { id, pixels } = event.data;
  let response: EncodeResponse;
  try {
    response = { id, data: await encodeTileBase64(pixels) };
  } catch (error) {
    response = { id, error: error instanceof Error ? error.message : String(error) };
  }
  (self as unknown as Worker).postMessage(response);
};
