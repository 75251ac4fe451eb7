// The "Uncertainty" toggle of the editor's left panel: draws the image's uncertainty map (served once a trained
// model pre-labelled the image, README "Learning from approved labels") over the image as a heat map. The map is
// fetched once, on first use, and coloured once; the overlay stretches it over the image like the disagreement map.
import { getUncertaintyMap } from "../api/training";
import type { Overlay } from "../canvas";
import { h } from "../ui/dom";

/** [r, g, b, a] 0-255 for an uncertainty byte (round(255 u)): clear at 0, yellow → red → magenta, alpha ∝ u. */
export function heatColor(value: number): [number, number, number, number] {
  const t = Math.min(1, Math.max(0, value / 255));
  // u tops out at 1 − 1/K (0.5 between two classes), so the ramp is spread over 0..0.5 and saturates after it.
  const s = Math.min(1, 2 * t);
  return [255, Math.round(230 * (1 - s)), Math.round(255 * Math.max(0, 2 * t - 1)), Math.round(230 * s)];
}

/** Colours a decoded grey map in place (RGBA bytes, the uncertainty in the red channel). */
export function colourUncertainty(pixels: Uint8ClampedArray): void {
  const lut = Array.from({ length: 256 }, (_, v) => heatColor(v));
  for (let i = 0; i < pixels.length; i += 4) pixels.set(lut[pixels[i]], i);
}

export class UncertaintyOverlay {
  readonly el: HTMLLabelElement;
  private readonly box: HTMLInputElement;
  private picture: HTMLCanvasElement | null = null;
  private loading: Promise<void> | null = null;
  private shown = false;
  private disposed = false;
  private readonly removePainter: () => void;

  constructor(
    private readonly image: { id: number; width: number; height: number; uncertainty: number | null },
    private readonly overlay: Overlay,
    private readonly notify: (text: string, kind?: "error") => void,
  ) {
    const scored = image.uncertainty !== null;
    this.box = h("input", {
      type: "checkbox", testid: "toggle-uncertainty", disabled: !scored,
      onchange: () => void this.setShown(this.box.checked),
    });
    this.el = h("label", {
      class: "tool-option inline", testid: "uncertainty-option",
      title: scored
        ? `Where the trained model was unsure (yellow → red: more unsure); mean uncertainty ${image.uncertainty!.toFixed(3)}`
        : "No uncertainty map: no trained model has pre-labelled this image yet",
    }, this.box, " Uncertainty", h("span", { class: "swatch uncertainty-swatch" }));
    this.removePainter = overlay.addPainter((o) => {
      if (this.shown && this.picture) o.drawPicture(this.picture, image.width, image.height);
    });
  }

  /** For tests (window.__editor): whether the map is drawn, i.e. on and loaded. */
  get state(): "off" | "loading" | "shown" {
    return !this.shown ? "off" : this.picture ? "shown" : "loading";
  }

  async setShown(on: boolean): Promise<void> {
    this.shown = on;
    this.box.checked = on;
    if (on && !this.picture) {
      this.loading ??= this.load();
      await this.loading;
    }
    this.overlay.requestDraw();
  }

  private async load(): Promise<void> {
    try {
      const bitmap = await getUncertaintyMap(this.image.id);
      if (this.disposed) return void bitmap.close();
      const canvas = document.createElement("canvas");
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
      colourUncertainty(pixels.data);
      ctx.putImageData(pixels, 0, 0);
      this.picture = canvas;
    } catch (err) {
      this.loading = null;
      this.shown = false;
      this.box.checked = false;
      if (!this.disposed) this.notify(`Could not load the uncertainty map: ${(err as Error).message}`, "error");
    }
  }

  dispose(): void {
    this.disposed = true;
    this.removePainter();
  }
}
